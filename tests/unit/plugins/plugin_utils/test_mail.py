import base64
import copy
import re

import bcrypt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
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


# --- Dovecot password hashes -------------------------------------------------

# SHA512-CRYPT hashes as older releases wrote them, from the test vectors of
# Drepper's "Unix crypt using SHA-256 and SHA-512" (independent of any library)
OLD_HASH = "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
OLD_PASSWORD = "Hello world!"
OLD_HASH_16 = "$6$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"
OLD_PASSWORD_16 = "This is just a test"
BLF = re.compile(r"^\{BLF-CRYPT\}\$2y\$10\$[./A-Za-z0-9]{53}$")


def field(out, address):
    """The password field of ``address`` in the passwd-file lines."""
    return [u for u in out["dovecot_users"] if u.startswith(address + ":")][0].split(":")[1]


def passwd_file(lines):
    # what the role's template writes (ansible_managed comment and the format line first)
    return "#\n# Ansible managed\n#\n# user:password:uid:gid:gecos:home:shell:extra\n" + "\n".join(lines) + "\n"


def bcrypt_ok(password, field_value):
    """Check a {BLF-CRYPT}$2y$ field with the bcrypt library directly (not through mail.py)."""
    return bcrypt.checkpw(password.encode(), ("$2b$" + field_value[len("{BLF-CRYPT}$2y$"):]).encode())


def test_password_hash_is_blf_crypt_in_dovecot_format_with_a_random_salt():
    h1 = mail.password_hash("pw")
    assert BLF.match(h1), h1
    assert bcrypt_ok("pw", h1) and not bcrypt_ok("pw2", h1)
    # the salt is random: nothing derived from the password is stored beside the hash
    assert h1 != mail.password_hash("pw")


# Dovecot itself verifies a new hash in molecule/mail (IMAP and SMTP AUTH logins after a fresh converge).


@pytest.mark.parametrize("password, stored, ok", [
    (OLD_PASSWORD, "{SHA512-CRYPT}" + OLD_HASH, True),
    (OLD_PASSWORD, "{CRYPT}" + OLD_HASH, True),
    (OLD_PASSWORD, OLD_HASH, True),
    (OLD_PASSWORD_16, "{SHA512-CRYPT}" + OLD_HASH_16, True),
    ("hello world!", "{SHA512-CRYPT}" + OLD_HASH, False),
    (OLD_PASSWORD, "{SHA256-CRYPT}" + OLD_HASH, False),        # scheme and hash disagree
    (OLD_PASSWORD, "{SHA512-CRYPT}$6$saltstring$broken", False),
    (OLD_PASSWORD, "{PLAIN}" + OLD_PASSWORD, False),             # never kept: rehashed
    (OLD_PASSWORD, "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", False),
    (OLD_PASSWORD, "", False),
])
def test_verify_password(password, stored, ok):
    assert mail.verify_password(password, stored) is ok


def test_verify_password_knows_blf_and_sha256_crypt():
    h = mail.password_hash("pw")
    assert mail.verify_password("pw", h) and not mail.verify_password("px", h)
    assert mail.verify_password("pw", "{CRYPT}" + h[len("{BLF-CRYPT}"):])
    raw = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()        # $2b$ as other tools write it
    assert mail.verify_password("pw", "{BLF-CRYPT}" + raw)
    sha256 = pytest.importorskip("passlib.hash").sha256_crypt.using(rounds=5000).hash("pw")
    assert mail.verify_password("pw", "{SHA256-CRYPT}" + sha256) and not mail.verify_password("px", sha256)


def test_previous_hashes_reads_the_passwd_file():
    text = passwd_file(["a@x.test:{SHA512-CRYPT}%s::::::userdb_quota_rule=*:storage=1G" % OLD_HASH,
                        "b@x.test:{BLF-CRYPT}$2y$10$abc:::B::", "", "broken line"])
    assert mail.previous_hashes(text) == {"a@x.test": "{SHA512-CRYPT}" + OLD_HASH, "b@x.test": "{BLF-CRYPT}$2y$10$abc"}
    assert mail.previous_hashes(None) == {} and mail.previous_hashes("") == {}
    assert mail.previous_hashes({"a@x.test": "h", "b@x.test": ""}) == {"a@x.test": "h"}


def test_new_mailbox_gets_a_blf_crypt_hash(m):
    out = accounts(m, boxes("alice@" + D), passwords={"alice@" + D: "new-secret"}, previous=passwd_file([]))
    assert BLF.match(field(out, "alice@" + D))
    assert bcrypt_ok("new-secret", field(out, "alice@" + D))


def test_existing_sha512_crypt_hash_that_matches_is_kept_byte_for_byte(m):
    line = "alice@%s:{SHA512-CRYPT}%s::::::userdb_quota_rule=*:storage=1G" % (D, OLD_HASH)
    line16 = "bob@%s:{SHA512-CRYPT}%s::::::userdb_quota_rule=*:storage=1G" % (D, OLD_HASH_16)
    out = accounts(m, boxes("alice@" + D, "bob@" + D),
                   passwords={"alice@" + D: OLD_PASSWORD, "bob@" + D: OLD_PASSWORD_16},
                   previous=passwd_file([line, line16]))
    # the whole passwd-file line is what the host has: the template renders no change
    assert out["dovecot_users"] == [line, line16]


def test_changed_password_gets_a_new_blf_crypt_hash(m):
    previous = passwd_file(["alice@%s:{SHA512-CRYPT}%s::::::userdb_quota_rule=*:storage=1G" % (D, OLD_HASH)])
    out = accounts(m, boxes("alice@" + D), passwords={"alice@" + D: "changed"}, previous=previous)
    h = field(out, "alice@" + D)
    assert BLF.match(h) and bcrypt_ok("changed", h) and not bcrypt_ok(OLD_PASSWORD, h)


def test_a_hash_of_another_mailbox_is_not_taken_over(m):
    # bob's line matches alice's password, but it is bob's
    previous = passwd_file(["bob@%s:{SHA512-CRYPT}%s::::::" % (D, OLD_HASH)])
    out = accounts(m, boxes("alice@" + D), passwords={"alice@" + D: OLD_PASSWORD}, previous=previous)
    assert BLF.match(field(out, "alice@" + D))


def test_second_run_changes_nothing(m):
    mailboxes = boxes("alice@" + D, "bob@" + D) + [{"address": "carol@" + E, "quota": "2G", "name": "Carol"}]
    first = accounts(m, mailboxes, previous=None)
    second = accounts(m, mailboxes, previous=passwd_file(first["dovecot_users"]))
    assert second == first
    # without the host's file every run would draw new salts
    assert accounts(m, mailboxes)["dovecot_users"] != first["dovecot_users"]


def test_a_password_bcrypt_cannot_hold_is_refused(m):
    with pytest.raises(mail.MailError) as e:
        accounts(m, boxes("alice@" + D), passwords={"alice@" + D: "x" * 73})
    assert e.value.variables == ["mail_password_length"] and "72" in str(e.value)


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
    assert len(fields) == 8 and BLF.match(fields[1]) and fields[4] == "Carol"
    assert fields[7] == "userdb_quota_rule=*:storage=2G"
    assert all("password_hash" not in b for b in out["mailboxes"])
    assert out["mailboxes"][1]["home"] == "/var/vmail/%s/alice" % D


def test_the_hash_checks_against_the_password(m):
    out = accounts(m, boxes("alice@" + D))
    assert bcrypt_ok("secret-alice@" + D, field(out, "alice@" + D))
    assert not bcrypt_ok("secret-bob@" + D, field(out, "alice@" + D))


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


def spki(public_key, pem=False):
    """A public key as PEM text or as bare base64 DER (SubjectPublicKeyInfo)."""
    if pem:
        return public_key.public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return base64.b64encode(public_key.public_bytes(serialization.Encoding.DER,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


def small_rsa_key(bits):
    # cryptography refuses to generate keys under 1024 bits; a public key of any size can still be built
    return rsa.RSAPublicNumbers(65537, (1 << (bits - 1)) | 0x1234567 << 8 | 1).public_key()


def test_dkim_p_value_of_a_2048_bit_key_is_the_key_itself(m):
    # the p= value must not change for an existing key (the zone would change otherwise)
    assert mail.dkim_public_key(PEM) == RSA_PUB
    assert mail.dkim_public_key(RSA_PUB) == RSA_PUB
    assert mail.dkim_public_key(" %s \n" % "\n".join(RSA_PUB[i:i + 76] for i in range(0, len(RSA_PUB), 76))) == RSA_PUB


def test_dkim_1024_bit_key_is_accepted(m):
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    out = mail.dkim_dns_keys(m, spki(key, pem=True))
    assert out[E]["public_key"] == spki(key)


@pytest.mark.parametrize("key, why", [
    ("", "not a PEM or base64"),
    ("not base64 at all!", "not a PEM or base64"),
    (base64.b64encode(b"\x30\x82" + bytes(300)).decode(), "not a PEM or base64"),
    (RSA_PUB[:60], "not a PEM or base64"),
    (PEM.replace("MIIB", "MIIC", 1), "not a PEM or base64"),
    (spki(small_rsa_key(768)), "RSA key of 768 bits; DKIM needs at least 1024"),
    (spki(small_rsa_key(1023), pem=True), "RSA key of 1023 bits"),
    (spki(ec.generate_private_key(ec.SECP256R1()).public_key(), pem=True), "EC key (secp256r1), not an RSA"),
    (spki(ed25519.Ed25519PrivateKey.generate().public_key()), "Ed25519 key, not an RSA"),
])
def test_bad_dkim_keys(m, key, why):
    with pytest.raises(mail.MailError) as e:
        mail.dkim_dns_keys(m, key)
    assert e.value.variables == ["mail_dkim_public_key"] and why in str(e.value)
    assert "Fix:" in str(e.value)


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
