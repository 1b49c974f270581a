import base64
import copy

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smbvdc.datacenter.plugins.filter.mail_accounts import mail_accounts
from ansible_collections.smbvdc.datacenter.plugins.filter.mail_dkim_keys import mail_dkim_keys
from ansible_collections.smbvdc.datacenter.plugins.filter.mail_host_names import mail_host_names
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import mail
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.errors import ModelError

from branch_fixtures import lab

# a real 2048-bit RSA public key (SubjectPublicKeyInfo, base64 DER)
RSA_PUB = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtgnm3SUcqgufM0R4F0wgTLfYpnXyo5318PaShXNPuFtQl+Ud+/RRe0oRh5s6ec35We"
    "oNyFlaxZyo3D80OK7qQLapmgCTEZv+VYATjcoViShMamsxa1zKJeAc6xfSkE4CwTwHL5bTppx9RfCIu+1y+iBjZAKVnF2rorAAPLzRBAEKnAHf"
    "z4OpWvKVLbTarO6yY4fK/gVUcWWP46kfZ51ClZhc2NNcqLw/G8brM/1ONgbxUkqi3q8Mhfx8szid2ujxVLmId+isVGaQmhI3pK/8Scpb6mmMlC"
    "xSRF8zVU4pe4jtDjZsGsE9yhOW7XYn9pKXstgW0jQqmTLdvzOBo1TbVQIDAQAB")
PEM = "-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n" % "\n".join(
    RSA_PUB[i:i + 64] for i in range(0, len(RSA_PUB), 64))
D, E = "lab.smbvdc.test", "example.org"


@pytest.fixture(scope="module")
def m():
    b, inv = lab()
    b["mail_domains"] = [E]
    return model.build_model(b, inv)


def boxes(*addresses, **extra):
    return [dict({"address": a}, **extra) for a in addresses]


def pw(*addresses):
    return {a: "secret-" + a for a in addresses}


def accounts(m, mailboxes, aliases=(), postmaster="alice@" + D, **kw):
    passwords = kw.pop("passwords", None)
    if passwords is None:
        passwords = pw(*[b["address"] for b in mailboxes if isinstance(b, dict) and isinstance(b.get("address"), str)])
    return mail.build_accounts(m, list(mailboxes), list(aliases), passwords, postmaster, **kw)


def problems(excinfo):
    return [str(p) for p in excinfo.value.problems]


# --- SHA512-CRYPT ------------------------------------------------------------


def test_sha512_crypt_matches_the_specification_vectors():
    # test vectors of Drepper's "Unix crypt using SHA-256 and SHA-512"
    assert mail.sha512_crypt("Hello world!", "saltstring") == (
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1")
    assert mail.sha512_crypt("Hello world!", "saltstringsaltstring", rounds=10000) == (
        "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.")
    assert mail.sha512_crypt("This is just a test", "toolongsaltstring", rounds=5000) == (
        "$6$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0")


def test_password_hash_is_stable_and_salted_per_address():
    h1 = mail.password_hash("a@" + D, "pw")
    assert h1 == mail.password_hash("a@" + D, "pw")
    assert h1.startswith("{SHA512-CRYPT}$6$") and len(h1.split("$")[2]) == 16
    assert h1 != mail.password_hash("b@" + D, "pw")
    assert h1 != mail.password_hash("a@" + D, "pw2")


# --- accounts ----------------------------------------------------------------


def test_tables_for_mailboxes_and_aliases(m):
    out = accounts(m, boxes("alice@" + D, "bob@" + D) + [{"address": "carol@" + E, "quota": "2g", "name": "Carol"}],
                   [{"address": "info@" + D, "to": ["alice@" + D, "bob@" + D]},
                    {"address": "sales@" + E, "to": ["info@" + D, "partner@elsewhere.example"]}])
    assert out["domains"] == [D, E]
    assert out["virtual_mailboxes"] == [["carol@" + E, E + "/carol/"], ["alice@" + D, D + "/alice/"],
                                        ["bob@" + D, D + "/bob/"]]
    aliases = dict(out["virtual_aliases"])
    assert aliases["info@" + D] == "alice@%s,bob@%s" % (D, D)
    assert aliases["sales@" + E] == "info@%s,partner@elsewhere.example" % D
    # RFC 2142 addresses go to the postmaster unless defined
    for d in (D, E):
        assert aliases["postmaster@" + d] == aliases["abuse@" + d] == "alice@" + D
    logins = dict(out["sender_logins"])
    assert logins["alice@" + D] == "alice@" + D
    assert logins["info@" + D] == "alice@%s,bob@%s" % (D, D)
    # sales@ reaches alice and bob through info@ (the outside partner is no login)
    assert logins["sales@" + E] == "alice@%s,bob@%s" % (D, D)
    carol = [u for u in out["dovecot_users"] if u.startswith("carol@")][0]
    fields = carol.split(":", 7)
    assert len(fields) == 8 and fields[1].startswith("{SHA512-CRYPT}$6$") and fields[4] == "Carol"
    assert fields[7] == "userdb_quota_rule=*:storage=2G"
    assert all("password_hash" not in b for b in out["mailboxes"])
    assert out["mailboxes"][1]["home"] == "/var/vmail/%s/alice" % D


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_hash_checks_against_the_password(m):
    crypt = pytest.importorskip("crypt")  # the stdlib's crypt(3) binding (gone in Python 3.13)
    out = accounts(m, boxes("alice@" + D))
    h = out["dovecot_users"][0].split(":")[1][len("{SHA512-CRYPT}"):]
    assert crypt.crypt("secret-alice@" + D, h) == h


def test_given_hashes_are_used_as_they_are(m):
    given = "{SHA512-CRYPT}$6$abcdefgh$" + "x" * 86
    out = accounts(m, [{"address": "alice@" + D, "password_hash": given}], passwords={})
    assert out["dovecot_users"][0].split(":")[1] == given
    out = accounts(m, [{"address": "alice@" + D, "password_hash": "$2y$05$abcdefghijklmnopqrstuv"}], passwords={})
    assert out["dovecot_users"][0].split(":")[1] == "{CRYPT}$2y$05$abcdefghijklmnopqrstuv"


def test_absent_entries_are_left_out(m):
    out = accounts(m, boxes("alice@" + D) + [{"address": "old@" + D, "state": "absent"}],
                   [{"address": "gone@" + D, "to": ["old@" + D], "state": "absent"}])
    assert [b["address"] for b in out["mailboxes"]] == ["alice@" + D]
    assert "gone@" + D not in dict(out["virtual_aliases"])


def test_mailbox_in_a_domain_the_branch_does_not_serve(m):
    with pytest.raises(mail.MailError) as e:
        accounts(m, boxes("alice@" + D, "eve@other.example"))
    assert e.value.variables == ["mail_mailboxes[1].address"]
    assert "other.example, which the branch does not serve" in str(e.value)
    assert "smbvdc_branch.mail_domains" in str(e.value)


def test_alias_in_a_domain_the_branch_does_not_serve(m):
    with pytest.raises(mail.MailError) as e:
        accounts(m, boxes("alice@" + D), [{"address": "x@other.example", "to": ["alice@" + D]}])
    assert e.value.variables == ["mail_aliases[0].address"]


def test_duplicate_addresses(m):
    with pytest.raises(mail.MailError) as e:
        accounts(m, boxes("alice@" + D, "bob@" + D, "alice@" + D),
                 [{"address": "bob@" + D, "to": ["alice@" + D]}])
    assert e.value.variables == ["mail_mailboxes[2]", "mail_aliases[0]"]
    assert "alice@%s is defined twice (also mail_mailboxes[0])" % D in str(e.value)


def test_duplicate_alias_targets(m):
    with pytest.raises(mail.MailError) as e:
        accounts(m, boxes("alice@" + D), [{"address": "x@" + D, "to": ["alice@" + D, "alice@" + D]}])
    assert e.value.variables == ["mail_aliases[0].to[1]"]


def test_alias_loops_are_named(m):
    with pytest.raises(mail.MailError) as e:
        accounts(m, boxes("alice@" + D), [
            {"address": "a@" + D, "to": ["b@" + D]},
            {"address": "b@" + D, "to": ["c@" + D, "alice@" + D]},
            {"address": "c@" + D, "to": ["a@" + D]},
            {"address": "self@" + D, "to": ["self@" + D]},
        ])
    msgs = problems(e)
    assert len(msgs) == 2
    assert "a@%s -> b@%s -> c@%s -> a@%s" % (D, D, D, D) in msgs[0] and msgs[0].startswith("mail_aliases[0]")
    assert "self@%s -> self@%s" % (D, D) in msgs[1] and msgs[1].startswith("mail_aliases[3]")


def test_alias_to_an_unknown_local_address(m):
    with pytest.raises(mail.MailError) as e:
        accounts(m, boxes("alice@" + D), [{"address": "info@" + D, "to": ["nobody@" + E]}])
    assert e.value.variables == ["mail_aliases[0]"]
    assert "nobody@%s, which is neither a mailbox nor an alias" % E in str(e.value)


def test_missing_postmaster(m):
    with pytest.raises(mail.MailError) as e:
        accounts(m, boxes("alice@" + D), postmaster="")
    assert set(e.value.variables) == {"mail_postmaster"} and len(e.value.problems) == 4
    # explicit aliases make mail_postmaster unnecessary
    aliases = [{"address": "%s@%s" % (l, d), "to": ["alice@" + D]} for l in ("postmaster", "abuse") for d in (D, E)]
    assert accounts(m, boxes("alice@" + D), aliases, postmaster="")


@pytest.mark.parametrize("address, fix", [
    ("Alice@" + D, "lowercase"),
    ("alice", "not a mail address"),
    ("a@b@" + D, "not a mail address"),
    (".alice@" + D, "invalid local part"),
    ("al..ice@" + D, "invalid local part"),
    ("alice@-bad.example", "invalid domain"),
    (42, "not a mail address"),
])
def test_bad_addresses(m, address, fix):
    with pytest.raises(mail.MailError) as e:
        accounts(m, [{"address": address}], passwords={})
    assert e.value.variables[0] == "mail_mailboxes[0].address" and fix in str(e.value)


@pytest.mark.parametrize("box, variable", [
    ({"address": "alice@" + D, "quota": "lots"}, "mail_mailboxes[0].quota"),
    ({"address": "alice@" + D, "quota": "-1G"}, "mail_mailboxes[0].quota"),
    ({"address": "alice@" + D, "password_hash": "plaintext"}, "mail_mailboxes[0].password_hash"),
    ({"address": "alice@" + D, "password_hash": "{PLAIN}secret"}, "mail_mailboxes[0].password_hash"),
    ({"address": "alice@" + D, "password_hash": "{SHA512-CRYPT}$6$a:b"}, "mail_mailboxes[0].password_hash"),
    ({"address": "alice@" + D, "name": "A:B"}, "mail_mailboxes[0].name"),
    ({"address": "alice@" + D, "typo": 1}, "mail_mailboxes[0]"),
    ("alice@" + D, "mail_mailboxes[0]"),
])
def test_bad_mailbox_fields(m, box, variable):
    with pytest.raises(mail.MailError) as e:
        accounts(m, [box], passwords={"alice@" + D: "x"})
    assert variable in e.value.variables


def test_mailbox_without_any_password(m):
    with pytest.raises(mail.MailError) as e:
        accounts(m, boxes("alice@" + D), passwords={})
    assert e.value.variables == ["mail_mailboxes[0].password_hash"]


def test_all_problems_are_reported_together(m):
    with pytest.raises(mail.MailError) as e:
        accounts(m, boxes("alice@" + D, "x@nowhere.example", "alice@" + D),
                 [{"address": "l@" + D, "to": ["l@" + D]}, {"address": "bad", "to": ["alice@" + D]}])
    assert len(e.value.problems) == 4
    assert isinstance(e.value, ModelError) and str(e.value).startswith("the mail accounts are not valid (4 problems)")


def test_a_branch_without_mail_host(m):
    m2 = copy.deepcopy(m)
    m2["services"]["mail"] = []
    with pytest.raises(mail.MailError) as e:
        accounts(m2, boxes("alice@" + D))
    assert e.value.variables == ["groups['mail']"]


# --- DKIM ------------------------------------------------------------------------


def test_dkim_keys_for_every_mail_domain(m):
    keys = mail.dkim_dns_keys(m, PEM)
    assert keys == {D: {"selector": "smbvdc", "public_key": RSA_PUB}, E: {"selector": "smbvdc", "public_key": RSA_PUB}}
    assert mail.dkim_dns_keys(m, RSA_PUB, selector="2026a", domains=[E]) == {E: {"selector": "2026a", "public_key": RSA_PUB}}


def test_dkim_keys_feed_the_dns_zones(m):
    from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import dns as dnsgen
    zones = dnsgen.build_zones(m, mail.dkim_dns_keys(m, PEM))
    for d in (D, E):
        txt = [r for r in zones[d]["records"] if r[0] == "smbvdc._domainkey"]
        assert len(txt) == 1 and "".join(txt[0][3]) == "v=DKIM1; k=rsa; p=" + RSA_PUB


def test_dkim_selector_with_no_mail_host():
    b, inv = lab()
    inv["groups"]["mail"] = []
    del inv["hostvars"]["mail1"]
    m2 = model.build_model(b, inv)
    with pytest.raises(mail.MailError) as e:
        mail.dkim_dns_keys(m2, PEM, selector="s1")
    assert e.value.variables == ["smbvdc_branch.mail.dkim_selector"]
    # and the model itself refuses such a selector before any mail code runs
    b["mail"] = {"dkim_selector": "s1"}
    with pytest.raises(ModelError) as e:
        model.build_model(b, inv)
    assert "smbvdc_branch.mail.dkim_selector" in e.value.variables


@pytest.mark.parametrize("key, why", [
    ("", "not a PEM or base64"),
    ("not base64 at all!", "not a PEM or base64"),
    (base64.b64encode(b"\x30\x82" + bytes(300)).decode(), "not an RSA public key"),
    (RSA_PUB[:60], "not an RSA public key"),
])
def test_bad_dkim_keys(m, key, why):
    with pytest.raises(mail.MailError) as e:
        mail.dkim_dns_keys(m, key)
    assert e.value.variables == ["mail_dkim_public_key"] and why in str(e.value)


def test_dkim_bad_selector_and_domain(m):
    with pytest.raises(mail.MailError) as e:
        mail.dkim_dns_keys(m, PEM, selector="Bad_Selector", domains=["other.example"])
    assert e.value.variables == ["mail_dkim_selector", "mail_dkim_domains"]


# --- host names and the filters --------------------------------------------------


def test_host_names(m):
    h = mail.host_names(m, "mail1")
    assert h["fqdn"] == "mail1." + D
    assert h["names"] == ["mail1." + D, "mail." + D, "webmail." + D]
    assert h["ipv4"] == [m["vms"]["mail1"]["ipv4"]] and h["ipv6"] == [m["vms"]["mail1"]["ipv6"]]
    with pytest.raises(mail.MailError) as e:
        mail.host_names(m, "web1")
    assert e.value.variables == ["groups['mail']"]


def test_filters_raise_filter_errors_naming_the_variable(m):
    with pytest.raises(AnsibleFilterError, match=r"mail_mailboxes\[0\]\.address"):
        mail_accounts(m, [{"address": "x@nowhere.example"}], passwords={"x@nowhere.example": "p"})
    with pytest.raises(AnsibleFilterError, match="input must be the branch model"):
        mail_accounts({}, [])
    with pytest.raises(AnsibleFilterError, match="mail_dkim_public_key"):
        mail_dkim_keys(m, "nope")
    with pytest.raises(AnsibleFilterError, match=r"groups\['mail'\]"):
        mail_host_names(m, "ns1")
    assert mail_dkim_keys(m, PEM)[E]["public_key"] == RSA_PUB
    assert mail_host_names(m, "mail1")["fqdn"] == "mail1." + D
    out = mail_accounts(m, [{"address": "alice@" + D}], passwords={"alice@" + D: "p"}, postmaster="alice@" + D)
    assert out["virtual_mailboxes"] == [["alice@" + D, D + "/alice/"]]
