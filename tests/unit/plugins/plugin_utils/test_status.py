"""plugin_utils/status.py: the checks of playbooks/status.yml.

The pure parts (status.dat, the table, the summary, VM states, the budget,
backup ages) on made-up data; the SMTP checks against a tiny SMTP server
(with STARTTLS, a throw-away certificate) and the DNS checks against a
dnspython server, both started here on 127.0.0.x. No other host is contacted.
"""

import datetime
import socket
import socketserver
import ssl
import threading

import pytest

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import status


# --- results, table, summary ------------------------------------------------------------------
def test_summary_counts_not_checked_apart_from_passed():
    rows = [status.result("a", "h1", True), status.result("b", "h2", False, "broken"),
            status.not_checked("c", "h3", "no password")]
    s = status.summary(rows)
    assert (s["passed"], s["failed"], s["not_checked"]) == (1, 1, 1)
    assert s["failed_checks"] == ["b (h2)"]
    assert status.summary_line(rows) == "status: 1 passed, 1 failed, 1 not checked"
    assert rows[2]["ok"] is None and rows[2]["detail"].startswith("not checked: ")


def test_result_schema_is_what_the_report_reads():
    from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import report_html
    rows = [status.result("dns soa x", "ns1", True, "serial 1"), status.not_checked("m", "mail1", "why")]
    assert set(rows[0]) == {"check", "host", "ok", "detail", "time"}
    assert rows[0]["time"].endswith("Z")
    parsed = report_html.parse_status(rows)
    assert [r["ok"] for r in parsed] == [True, None]
    page = report_html._status_section(parsed, "status.json")
    assert "1 not checked" in page and "not checked</td>" in page


def test_table_has_one_line_per_result_and_the_summary_last():
    rows = [status.result("dns soa example.org", "ns1", True, "serial 7"),
            status.result("mail no open relay on 25", "mail1", False, "RCPT accepted"),
            status.not_checked("mail 587 -> IMAP round trip", "mail1", "no password")]
    lines = status.table(rows)
    assert lines[0].split() == ["check", "host", "result", "detail"]
    assert "FAILED" in lines[3] and "RCPT accepted" in lines[3]
    assert "not checked" in lines[4]
    assert lines[-1] == "status: 1 passed, 1 failed, 1 not checked"
    assert len(lines) == 2 + len(rows) + 1


def test_guard_turns_an_exception_into_a_failed_check():
    out = []

    def boom():
        raise OSError("connection refused")

    status._guard(out, "mail services", "mail1", boom)
    assert out[0]["ok"] is False and "connection refused" in out[0]["detail"]


# --- Nagios status.dat ------------------------------------------------------------------------
STATUS_DAT = """\
info {
\tcreated=1
\t}

hoststatus {
\thost_name=web1
\tcurrent_state=0
\thas_been_checked=1
\tproblem_has_been_acknowledged=0
\tscheduled_downtime_depth=0
\t}

hoststatus {
\thost_name=ns2
\tcurrent_state=1
\thas_been_checked=1
\tproblem_has_been_acknowledged=0
\tscheduled_downtime_depth=0
\t}

servicestatus {
\thost_name=web1
\tservice_description=HTTPS
\tcurrent_state=0
\thas_been_checked=1
\tproblem_has_been_acknowledged=0
\tscheduled_downtime_depth=0
\tplugin_output=HTTP OK
\t}

servicestatus {
\thost_name=ns2
\tservice_description=DNS
\tcurrent_state=2
\thas_been_checked=1
\tproblem_has_been_acknowledged=0
\tscheduled_downtime_depth=0
\t}

servicestatus {
\thost_name=mail1
\tservice_description=SMTP
\tcurrent_state=2
\thas_been_checked=1
\tproblem_has_been_acknowledged=1
\tscheduled_downtime_depth=0
\t}

servicestatus {
\thost_name=mail1
\tservice_description=IMAPS
\tcurrent_state=1
\thas_been_checked=1
\tproblem_has_been_acknowledged=0
\tscheduled_downtime_depth=1
\t}
"""


def test_parse_status_dat_reads_hosts_and_services():
    st = status.parse_status_dat(STATUS_DAT)
    assert set(st["hosts"]) == {"web1", "ns2"}
    assert set(st["services"]) == {("web1", "HTTPS"), ("ns2", "DNS"), ("mail1", "SMTP"), ("mail1", "IMAPS")}
    assert st["services"][("web1", "HTTPS")]["plugin_output"] == "HTTP OK"
    assert status.parse_status_dat("") == {"hosts": {}, "services": {}}


def test_nagios_unhandled_problems_skip_acknowledged_and_downtime():
    plan = {"server": "mon1", "services": [{"host": "web1", "description": "HTTPS"},
                                           {"host": "ns2", "description": "DNS"},
                                           {"host": "ns1", "description": "DNS"}]}
    rows = {r["check"]: r for r in status.nagios_results(plan, STATUS_DAT)}
    plan_row = rows["nagios checks every service of the plan"]
    assert plan_row["ok"] is False and "ns1/DNS" in plan_row["detail"]
    problems = rows["nagios no unhandled problems"]
    assert problems["ok"] is False
    assert "ns2/DNS=CRITICAL" in problems["detail"] and "ns2=DOWN" in problems["detail"]
    assert "mail1/SMTP" not in problems["detail"] and "mail1/IMAPS" not in problems["detail"]
    assert rows["nagios every service has been checked"]["ok"] is True


def test_nagios_soft_states_are_not_yet_problems():
    # a SOFT state is not confirmed (no notification yet); HARD is a problem
    soft = STATUS_DAT.replace("\tservice_description=DNS\n", "\tservice_description=DNS\n\tstate_type=0\n")
    plan = {"server": "mon1", "services": [{"host": "ns2", "description": "DNS"}]}
    rows = {r["check"]: r for r in status.nagios_results(plan, soft)}
    assert "ns2/DNS" not in rows["nagios no unhandled problems"]["detail"]
    hard = STATUS_DAT.replace("\tservice_description=DNS\n", "\tservice_description=DNS\n\tstate_type=1\n")
    rows = {r["check"]: r for r in status.nagios_results(plan, hard)}
    assert "ns2/DNS=CRITICAL" in rows["nagios no unhandled problems"]["detail"]
    assert rows["nagios no unhandled problems"]["ok"] is False


def test_nagios_all_well_and_unreadable():
    good = STATUS_DAT.replace("current_state=2", "current_state=0").replace("current_state=1", "current_state=0")
    plan = {"server": "mon1", "services": [{"host": "web1", "description": "HTTPS"}]}
    assert all(r["ok"] for r in status.nagios_results(plan, good))
    assert status.nagios_results(plan, None)[0]["ok"] is False
    assert status.nagios_results({"server": None}, good) == []


def test_amanda_ages():
    rows = status.amanda_results("bak1", ["web1.b.test", "ns1.b.test", "ns2.b.test"],
                                 {"web1.b.test": "OK - web1: last good backup 3 h ago",
                                  "ns1.b.test": "CRITICAL - ns1: no good backup"}, 26)
    assert [(r["host"], r["ok"]) for r in rows] == [("web1", True), ("ns1", False), ("ns2", False)]
    assert "no output" in rows[2]["detail"]


# --- VMs and the budget -----------------------------------------------------------------------
def _model(**states):
    vms = {n: {"name": n, "state": s, "memory_mb": 1024} for n, s in states.items()}
    return {"name": "b", "vms": vms, "services": {},
            "kvm_hosts": {"kvm1": {"memory_mb": 8192, "os_reserve_mb": 2048, "vms": sorted(vms)}},
            "budget_settings": {"vm_overhead_mb": 200}}


def _dom(name, state, mem=1024, branch="b"):
    return {"name": name, "state": state, "max_memory_mb": mem, "smbvdc": {"branch": branch, "name": name}}


def test_vm_states_against_vm_state():
    model = _model(a=None, b="shutdown", c="running", d="undefined", e="paused")
    live = {"kvm1": {"domains": [_dom("a", "running"), _dom("b", "running"), _dom("e", "paused")]}}
    rows = {r["host"]: r for r in status.vm_results(model, live)}
    assert rows["a"]["ok"] is True                 # default state running
    assert rows["b"]["ok"] is False and "running on kvm1" in rows["b"]["detail"]
    assert rows["c"]["ok"] is False and "no KVM host" in rows["c"]["detail"]
    assert rows["d"]["ok"] is True
    assert rows["e"]["ok"] is True


def test_vm_on_two_hosts_fails_and_unread_host_is_not_checked():
    model = _model(a=None, b=None)
    live = {"kvm1": {"domains": [_dom("a", "running")]}, "kvm2": {"domains": [_dom("a", "running")]}, "kvm3": None}
    rows = {r["host"]: r for r in status.vm_results(model, live)}
    assert rows["a"]["ok"] is False and "2 hosts" in rows["a"]["detail"]
    assert rows["b"]["ok"] is None


def test_vm_of_another_branch_does_not_count():
    model = _model(a=None)
    rows = status.vm_results(model, {"kvm1": {"domains": [_dom("a", "running", branch="other")]}})
    assert rows[0]["ok"] is False


def test_budget_uses_the_real_ram_and_the_defined_domains():
    model = _model(a=None)
    ok = status.budget_results(model, {"kvm1": {"memory_total_mb": 8192, "domains": [_dom("a", "running", 4096)]}})
    assert ok[0]["ok"] is True and "free" in ok[0]["detail"]
    # 2 x (3000 + 200) > 8192 - 2048
    over = status.budget_results(model, {"kvm1": {"memory_total_mb": 8192,
                                                  "domains": [_dom("a", "running", 3000), _dom("x", "running", 3000)]}})
    assert over[0]["ok"] is False
    assert status.budget_results(model, {"kvm1": None})[0]["ok"] is None


def test_mailbox_password(tmp_path):
    assert status.mailbox_password(tmp_path, [{"address": "a@b.test"}]) == (None, None)
    (tmp_path / "mailbox-a@b.test.password").write_text("s3cret\n")
    assert status.mailbox_password(tmp_path, ["x@b.test", {"address": "a@b.test"}]) == ("a@b.test", "s3cret")
    rows = status.roundtrip_results("mail1", "127.0.0.1", None, None)
    assert rows[0]["ok"] is None


# --- SMTP against a local server --------------------------------------------------------------
@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=10)).sign(key, hashes.SHA256()))
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return str(d / "cert.pem"), str(d / "key.pem")


class SMTPServer(object):
    """One-thread SMTP server on 127.0.0.1: ``auth_before_tls``, ``starttls``, ``relay`` decide its answers;
    ``commands`` records every command verb it was sent."""

    def __init__(self, tls_files, starttls=True, auth_before_tls=False, relay=False):
        self.commands = []
        outer = self
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls_files)

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                sock, tls = self.request, False
                f = sock.makefile("rb")
                sock.sendall(b"220 mail.test ESMTP\r\n")
                while True:
                    line = f.readline()
                    if not line:
                        return
                    verb = line.split(b" ", 1)[0].split(b":", 1)[0].strip().upper().decode()
                    outer.commands.append(verb)
                    if verb in ("EHLO", "HELO"):
                        ext = []
                        if starttls and not tls:
                            ext.append("STARTTLS")
                        if tls or auth_before_tls:
                            ext.append("AUTH PLAIN LOGIN")
                        lines = ["mail.test"] + ext
                        sock.sendall("".join("250%s%s\r\n" % ("-" if i < len(lines) - 1 else " ", x)
                                             for i, x in enumerate(lines)).encode())
                    elif verb == "STARTTLS" and starttls and not tls:
                        sock.sendall(b"220 go ahead\r\n")
                        sock = ctx.wrap_socket(sock, server_side=True)
                        f, tls = sock.makefile("rb"), True
                    elif verb == "MAIL":
                        sock.sendall(b"250 2.1.0 Ok\r\n")
                    elif verb == "RCPT":
                        local = b"@mail.test" in line
                        sock.sendall(b"250 2.1.5 Ok\r\n" if relay or local else
                                     b"554 5.7.1 Relay access denied\r\n")
                    elif verb == "RSET":
                        sock.sendall(b"250 Ok\r\n")
                    elif verb == "QUIT":
                        sock.sendall(b"221 Bye\r\n")
                        return
                    else:
                        sock.sendall(b"502 5.5.2 not here\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp(tls_files):
    servers = []

    def make(**kw):
        s = SMTPServer(tls_files, **kw)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.close()


def test_auth_only_after_starttls_passes(smtp):
    s = smtp()
    info = status.smtp_tls_auth("127.0.0.1", s.port, timeout=10)
    assert info == {"starttls": True, "auth_before_tls": False, "auth_after_tls": True}


def test_auth_before_tls_is_seen(smtp):
    s = smtp(auth_before_tls=True)
    assert status.smtp_tls_auth("127.0.0.1", s.port, timeout=10)["auth_before_tls"] is True
    s2 = smtp(starttls=False)
    assert status.smtp_tls_auth("127.0.0.1", s2.port, timeout=10)["starttls"] is False


def test_relay_refused_and_no_data_sent(smtp):
    s = smtp()
    relays, detail = status.open_relay("127.0.0.1", s.port, timeout=10)
    assert relays is False and "refused: 554" in detail
    assert "DATA" not in s.commands and "RCPT" in s.commands and s.commands[-1] == "QUIT"


def test_open_relay_is_found_and_still_no_data(smtp):
    s = smtp(relay=True)
    relays, detail = status.open_relay("127.0.0.1", s.port, timeout=10)
    assert relays is True and "accepted" in detail
    assert "DATA" not in s.commands


def test_smtp_results_on_a_server_with_a_short_lived_certificate(smtp):
    good = smtp()
    bad = smtp(auth_before_tls=True, relay=True)
    all_rows = status.smtp_results("mail1", "127.0.0.1", cert_days=5, timeout=10,
                                   ports={"smtp": good.port, "submission": good.port, "imaps": 1})
    by = {r["check"]: r for r in all_rows}
    assert by["mail STARTTLS on %d" % good.port]["ok"] is True
    assert by["mail no AUTH before TLS on %d" % good.port]["ok"] is True
    assert by["mail no open relay on %d" % good.port]["ok"] is True
    assert by["mail certificate on %d valid 5+ days" % good.port]["ok"] is True
    assert "mail.test until" in by["mail certificate on %d valid 5+ days" % good.port]["detail"]
    # port 1 on loopback: nothing listens, a failed check and not a crash
    assert by["mail certificate on 1 valid 5+ days"]["ok"] is False
    # 10 days left < 14
    worse = status.smtp_results("mail1", "127.0.0.1", cert_days=14, timeout=10,
                                ports={"smtp": bad.port, "submission": bad.port, "imaps": 1})
    by = {r["check"]: r for r in worse}
    assert by["mail no AUTH before TLS on %d" % bad.port]["ok"] is False
    assert by["mail no open relay on %d" % bad.port]["ok"] is False
    assert by["mail certificate on %d valid 14+ days" % bad.port]["ok"] is False


# --- DNS against a local dnspython server -----------------------------------------------------
class DNSServer(object):
    """Answers from ``records`` ``{(name, type): [rdata text]}`` over UDP; AXFR over TCP per ``axfr``
    (``refuse``, ``allow`` or ``close``). Authoritative for the zones with an SOA in ``records``."""

    def __init__(self, address, port, records, axfr="refuse"):
        records = {(n.rstrip(".").lower() + ".", t): v for (n, t), v in records.items()}
        zones = [n for n, t in records if t == "SOA"]

        def answer(wire):
            q = dns.message.from_wire(wire)
            r = dns.message.make_response(q)
            qname, qtype = q.question[0].name.to_text().lower(), dns.rdatatype.to_text(q.question[0].rdtype)
            if qtype == "AXFR":
                if axfr == "refuse":
                    r.set_rcode(dns.rcode.REFUSED)
                    return r.to_wire()
                for (n, t), vals in records.items():
                    r.answer.append(dns.rrset.from_text_list(n, 300, "IN", t, vals))
                return r.to_wire()
            if any(qname == z or qname.endswith("." + z) for z in zones):
                r.flags |= dns.flags.AA
            vals = records.get((qname, qtype))
            if vals:
                r.answer.append(dns.rrset.from_text_list(qname, 300, "IN", qtype, vals))
            elif not any(n == qname for n, _t in records):
                r.set_rcode(dns.rcode.NXDOMAIN)
            return r.to_wire()

        class UDP(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                sock.sendto(answer(data), self.client_address)

        class TCP(socketserver.BaseRequestHandler):
            def handle(self):
                head = self.request.recv(2)
                if len(head) < 2 or axfr == "close":
                    return
                n = int.from_bytes(head, "big")
                data = b""
                while len(data) < n:
                    data += self.request.recv(n - len(data))
                out = answer(data)
                self.request.sendall(len(out).to_bytes(2, "big") + out)

        socketserver.UDPServer.allow_reuse_address = True
        self.udp = socketserver.ThreadingUDPServer((address, port), UDP)
        self.tcp = socketserver.ThreadingTCPServer((address, self.udp.server_address[1]), TCP)
        self.port = self.udp.server_address[1]
        for s in (self.udp, self.tcp):
            s.daemon_threads = True
            threading.Thread(target=s.serve_forever, daemon=True).start()

    def close(self):
        for s in (self.udp, self.tcp):
            s.shutdown()
            s.server_close()


ZONE = "b.test"
REV = "10.77.10.in-addr.arpa"


def records(serial=2026120401, ptr="mail1.b.test.", mail_a="10.77.10.11", spf="v=spf1 ip4:10.77.10.11 -all"):
    return {
        (ZONE, "SOA"): ["ns1.b.test. hostmaster.b.test. %d 14400 3600 1209600 3600" % serial],
        (REV, "SOA"): ["ns1.b.test. hostmaster.b.test. %d 14400 3600 1209600 3600" % serial],
        (ZONE, "MX"): ["10 mail1.b.test."],
        (ZONE, "TXT"): ['"%s"' % spf],
        ("_dmarc." + ZONE, "TXT"): ['"v=DMARC1; p=quarantine"'],
        ("smbvdc._domainkey." + ZONE, "TXT"): ['"v=DKIM1; k=rsa; p=MIIBIjAN"'],
        ("11." + REV, "PTR"): [ptr],
        ("mail1." + ZONE, "A"): [mail_a],
    }


@pytest.fixture
def dns_pair():
    started = []

    def make(primary, secondary, axfr2="refuse"):
        a = DNSServer("127.0.0.1", 0, primary)
        try:
            b = DNSServer("127.0.0.2", a.port, secondary, axfr=axfr2)
        except OSError:
            a.close()
            pytest.skip("127.0.0.2:%d is taken" % a.port)
        started.extend([a, b])
        return [("ns1", "127.0.0.1", True), ("ns2", "127.0.0.2", False)], a.port
    yield make
    for s in started:
        s.close()


def _mail_model():
    return {"name": "b", "domain": ZONE, "mail_domains": [ZONE], "mail": {"dkim_selector": "smbvdc"},
            "services": {"mail": ["mail1"]},
            "vms": {"mail1": {"fqdn": "mail1." + ZONE, "ipv4": "10.77.10.11"}}}


def test_dns_all_well(dns_pair):
    servers, port = dns_pair(records(), records())
    rows = status.dns_results({}, zones=[ZONE, REV], servers=servers, timeout=2, port=port)
    assert all(r["ok"] for r in rows), [r for r in rows if not r["ok"]]
    assert len([r for r in rows if r["check"].startswith("dns soa")]) == 4
    assert [r["host"] for r in rows if r["check"] == "dns unkeyed AXFR refused"] == ["ns1", "ns2"]


def test_dns_serial_mismatch_missing_zone_and_open_axfr_fail(dns_pair):
    second = records(serial=2026120300)
    del second[(REV, "SOA")]
    servers, port = dns_pair(records(), second, axfr2="allow")
    rows = status.dns_results({}, zones=[ZONE, REV], servers=servers, timeout=2, port=port)
    bad = {(r["check"], r["host"]) for r in rows if not r["ok"]}
    assert bad == {("dns soa %s" % REV, "ns2"), ("dns serials equal the primary's", "ns2"),
                   ("dns unkeyed AXFR refused", "ns2")}
    serial = [r for r in rows if r["check"] == "dns serials equal the primary's"][0]
    assert "2026120300 != 2026120401" in serial["detail"]


def test_dns_dead_server_fails_not_crashes():
    # nothing listens on this port of 127.0.0.3
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.3", 0))
    port = sock.getsockname()[1]
    sock.close()
    rows = status.dns_results({}, zones=[ZONE], servers=[("ns1", "127.0.0.3", True)], timeout=0.5, port=port)
    assert rows and not any(r["ok"] for r in rows)


def test_mail_dns_a_dead_server_hides_nothing_of_the_others(dns_pair):
    # the lab: with nsd stopped on ns2 the whole section read "mail dns: Timeout",
    # and a broken SPF record on ns1 went unreported
    servers, port = dns_pair(records(spf="v=spf1 -all"), records())
    servers = [servers[0], ("ns2", "127.0.0.9", False)]   # nothing listens there
    rows = status.mail_dns_results(_mail_model(), servers=servers, timeout=0.5, port=port)
    ns1 = {r["check"]: r["ok"] for r in rows if r["host"] == "ns1"}
    assert len(ns1) == 5 and ns1["mail dns SPF %s" % ZONE] is False, ns1
    ns2 = [r for r in rows if r["host"] == "ns2"]
    assert len(ns2) == 1 and ns2[0]["ok"] is False and ns2[0]["check"] == "mail dns at 127.0.0.9", ns2


def test_mail_dns_all_well_and_broken_spf_and_ptr(dns_pair):
    servers, port = dns_pair(records(), records(spf="v=spf1 -all", ptr="other.b.test."))
    rows = status.mail_dns_results(_mail_model(), servers=servers, timeout=2, port=port)
    good = [r for r in rows if r["host"] == "ns1"]
    assert len(good) == 5 and all(r["ok"] for r in good), good
    bad = {r["check"] for r in rows if r["host"] == "ns2" and not r["ok"]}
    assert bad == {"mail dns SPF %s" % ZONE, "mail dns PTR of 10.77.10.11 forward-confirms"}
