"""The web sites of the branch (plugin_utils/web.py), their DNS records (dns.py) and the web_sites filter."""

import copy

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.smbvdc.datacenter.plugins.filter.web_sites import FilterModule
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import checks, dns, web
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.model import ModelError, build_model

from branch_fixtures import lab

DOMAIN = "lab.smbvdc.test"


def _branch(web_section=None, moodle=True, web1_mb=1024, **extra):
    branch, inv = lab()
    branch = copy.deepcopy(branch)
    inv = copy.deepcopy(inv)
    if moodle:
        inv["groups"]["moodle"] = ["web1"]
    inv["hostvars"]["web1"]["vm_memory_mb"] = web1_mb
    if web_section is not None:
        branch["web"] = web_section
    branch.update(extra)
    return branch, inv


def _model(*args, **kwargs):
    return build_model(*_branch(*args, **kwargs))


def _problems(*args, **kwargs):
    branch, inv = _branch(*args, **kwargs)
    with pytest.raises(ModelError) as err:
        build_model(branch, inv)
    return {p.variable: str(p) for p in err.value.problems}


def _records(model, zone=DOMAIN):
    return [(r[0], r[1], r[3], r[4]) for r in dns.build_zones(model, {})[zone]["records"]]


# --- the sites in the model -----------------------------------------------------------------------
def test_a_moodle_vm_gets_its_default_site():
    m = _model()
    (site,) = m["web"]["sites"]
    assert site["name"] == "moodle.%s" % DOMAIN
    assert (site["app"], site["host"], site["aliases"]) == ("moodle", "web1", [])
    assert site["wwwroot"] == "https://moodle.%s" % DOMAIN
    assert site["document_root"] == "/var/www/moodle/public"
    assert site["app_root"] == "/var/www/moodle"
    assert site["tls"] == {"provider": "branch_ca", "cert": "/etc/ssl/smbvdc/sites/moodle.%s.crt" % DOMAIN,
                           "key": "/etc/ssl/private/smbvdc-site-moodle.%s.key" % DOMAIN}


def test_no_web_section_and_no_app_group_means_no_sites():
    assert _model(moodle=False)["web"] == {"sites": [], "default_sites": True}


def test_default_sites_can_be_switched_off():
    assert _model({"default_sites": False})["web"]["sites"] == []


def test_explicit_sites_are_normalised():
    m = _model({"sites": [
        {"name": "WWW", "aliases": ["intranet", "www.%s." % DOMAIN, "Portal.%s" % DOMAIN]},
        {"name": "learn", "app": "moodle", "aliases": ["moodle"], "wwwroot": "https://learn.%s/" % DOMAIN},
        {"name": "files", "document_root": "/srv/files/", "tls": {"cert": "/etc/ssl/acme/f.crt",
                                                                  "key": "/etc/ssl/acme/f.key"}},
    ]})
    sites = {s["name"]: s for s in m["web"]["sites"]}
    # the listed Moodle site replaces the default one
    assert sorted(sites) == ["files.%s" % DOMAIN, "learn.%s" % DOMAIN, "www.%s" % DOMAIN]
    www = sites["www.%s" % DOMAIN]
    assert www["aliases"] == ["intranet.%s" % DOMAIN, "portal.%s" % DOMAIN]
    assert (www["app"], www["host"], www["document_root"]) == ("static", "web1", "/var/www/www.%s" % DOMAIN)
    assert sites["learn.%s" % DOMAIN]["wwwroot"] == "https://learn.%s" % DOMAIN
    files = sites["files.%s" % DOMAIN]
    assert files["document_root"] == "/srv/files"
    assert files["tls"] == {"provider": "external", "cert": "/etc/ssl/acme/f.crt", "key": "/etc/ssl/acme/f.key"}


# --- bad input: each names the variable and the fix ------------------------------------------------
@pytest.mark.parametrize("web_section,variable,words", [
    ({"sites": [{"name": "ns1"}]}, "smbvdc_branch.web.sites[0].name", "is already the name of host ns1"),
    ({"sites": [{"name": "webmail"}]}, "smbvdc_branch.web.sites[0].name", "service name 'webmail' of group mail"),
    ({"sites": [{"name": "www", "aliases": ["mail1"]}]}, "smbvdc_branch.web.sites[0].aliases",
     "is already the name of host mail1"),
    ({"sites": [{"name": "a"}, {"name": "b", "aliases": ["a"]}]}, "smbvdc_branch.web.sites[1].aliases",
     "is also a name of smbvdc_branch.web.sites[0]"),
    ({"sites": [{"name": "shop", "app": "wordpress"}]}, "smbvdc_branch.web.sites[0].app",
     "must be one of static, moodle, nextcloud, got 'wordpress'"),
    ({"sites": [{"name": "www", "wwwroot": "http://www.%s" % DOMAIN}]}, "smbvdc_branch.web.sites[0].wwwroot",
     "is not an https:// URL"),
    ({"sites": [{"name": "www", "wwwroot": "https://www.%s/moodle" % DOMAIN}]}, "smbvdc_branch.web.sites[0].wwwroot",
     "without a port or a path"),
    ({"sites": [{"name": "www", "wwwroot": "https://other.example.org"}]}, "smbvdc_branch.web.sites[0].wwwroot",
     "the site's name or an alias"),
    ({"sites": [{"name": "www", "tls": {"cert": "/etc/ssl/x.crt"}}]}, "smbvdc_branch.web.sites[0].tls",
     "both cert and key"),
    ({"sites": [{"name": "learn", "app": "moodle", "document_root": "/srv/m"}]},
     "smbvdc_branch.web.sites[0].document_root", "remove document_root"),
    ({"sites": [{"name": "www", "document_root": "srv/www"}]}, "smbvdc_branch.web.sites[0].document_root",
     "not an absolute directory path"),
    ({"sites": [{"name": "www", "host": "mail1"}]}, "smbvdc_branch.web.sites[0].host", "is not a web VM"),
    ({"sites": [{"name": "bad name!"}]}, "smbvdc_branch.web.sites[0].name", "is not a DNS name"),
    ({"sites": [{"app": "static"}]}, "smbvdc_branch.web.sites[0].name", "is required"),
    ({"sites": [{"name": "www", "colour": "red"}]}, "smbvdc_branch.web.sites[0].colour", "is not a known site key"),
    ({"site": []}, "smbvdc_branch.web.site", "is not a known setting"),
    ({"sites": [{"name": "one", "app": "moodle"}, {"name": "two", "app": "moodle"}]}, "smbvdc_branch.web.sites",
     "web1 has 2 moodle sites"),
    ({"sites": [{"name": DOMAIN, "host": "web1"}]}, None, None),     # the apex: allowed (one web VM)
])
def test_bad_sites_fail_naming_the_variable(web_section, variable, words):
    if variable is None:
        _model(web_section)
        return
    problems = _problems(web_section)
    assert variable in problems, problems
    assert words in problems[variable], problems[variable]
    assert "Fix:" in problems[variable]


def test_a_user_record_is_a_taken_name():
    problems = _problems({"sites": [{"name": "shop"}]}, dns={"records": [{"name": "shop", "type": "A",
                                                                         "value": "192.0.2.1"}]})
    assert "a record of smbvdc_branch.dns.records[0]" in problems["smbvdc_branch.web.sites[0].name"]


def test_a_moodle_site_needs_the_vm_in_group_moodle():
    problems = _problems({"sites": [{"name": "learn", "app": "moodle", "host": "web1"}]}, moodle=False)
    assert "is not in groups['moodle']" in problems["smbvdc_branch.web.sites[0].host"]
    assert "add web1 to groups['moodle']" in problems["smbvdc_branch.web.sites[0].host"]


def test_a_site_on_a_branch_with_two_web_vms_names_its_host():
    branch, inv = _branch({"sites": [{"name": "www"}]}, moodle=False)
    inv["groups"]["web"] = ["web1", "web2"]
    inv["hostvars"]["web2"] = {"vm_memory_mb": 512}
    with pytest.raises(ModelError) as err:
        build_model(branch, inv)
    assert "smbvdc_branch.web.sites[0].host: is needed" in str(err.value)
    assert "host: web1" in str(err.value)


@pytest.mark.parametrize("mb,ok", [(512, False), (767, False), (768, True)])
def test_a_moodle_vm_needs_768_mib(mb, ok):
    if ok:
        assert _model(web1_mb=mb)["web"]["sites"]
        return
    problems = _problems(web1_mb=mb)
    text = problems["hostvars['web1'].vm_memory_mb"]
    assert "%d MiB is less than its sites need: 768 MiB" % mb in text
    assert "set vm_memory_mb: 768 or more for web1" in text


def test_moodle_and_nextcloud_on_one_vm_need_both():
    branch, inv = _branch(web1_mb=1024)
    inv["groups"]["owncloud"] = ["web1"]
    with pytest.raises(ModelError) as err:
        build_model(branch, inv)
    assert "1024 MiB is less than its sites need: 1280 MiB" in str(err.value)
    inv["hostvars"]["web1"]["vm_memory_mb"] = 1280
    apps = sorted(s["app"] for s in build_model(branch, inv)["web"]["sites"])
    assert apps == ["moodle", "nextcloud"]


def test_a_static_site_needs_only_the_base():
    assert web.memory_needed(["static"]) == web.BASE_MEMORY_MB
    assert _model({"sites": [{"name": "www"}]}, moodle=False, web1_mb=256)["web"]["sites"]


def test_several_moodle_vms_get_no_default_site():
    branch, inv = _branch()
    inv["groups"]["moodle"] = ["web1", "web2"]
    inv["hostvars"]["web2"] = {"vm_memory_mb": 1024}
    assert build_model(branch, inv)["web"]["sites"] == []


def test_a_vm_named_like_the_service_keeps_its_name():
    """The example branch's VM "cloud" in group owncloud: its site is its own name, no CNAME."""
    branch, inv = _branch(moodle=False)
    inv["groups"]["owncloud"] = ["cloud"]
    inv["hostvars"]["cloud"] = {"vm_memory_mb": 1024}
    m = build_model(branch, inv)
    (site,) = m["web"]["sites"]
    assert site["name"] == "cloud.%s" % DOMAIN and site["host"] == "cloud"
    assert not [r for r in _records(m) if r[0] == "cloud" and r[1] == "CNAME"]
    assert web.web_sites(m, "cloud")["default_site"] is None


# --- DNS: the site names are published, once ----------------------------------------------------------
def test_site_names_become_cnames_of_their_vm():
    m = _model({"sites": [{"name": "www", "aliases": ["intranet"]}, {"name": "learn", "app": "moodle"}]})
    cnames = {r[0]: r for r in _records(m) if r[1] == "CNAME"}
    assert cnames["learn"][2] == "web1.%s." % DOMAIN
    assert cnames["learn"][3] == "smbvdc_branch.web.sites[1].name"
    assert cnames["intranet"][2] == "web1.%s." % DOMAIN
    assert cnames["intranet"][3] == "smbvdc_branch.web.sites[0].aliases"
    # www and moodle are service names pointing at web1 already: one record each
    assert [r[0] for r in _records(m) if r[1] == "CNAME"].count("www") == 1
    assert [r[0] for r in _records(m) if r[1] == "CNAME"].count("moodle") == 1


def test_a_site_at_the_apex_gets_addresses():
    m = _model({"sites": [{"name": DOMAIN}]}, moodle=False, dns={"apex_web": False})
    apex = [r for r in _records(m) if r[0] == "@" and r[1] in ("A", "AAAA")]
    assert sorted(r[2] for r in apex) == sorted([m["vms"]["web1"]["ipv4"], m["vms"]["web1"]["ipv6"]])
    assert all(r[3] == "smbvdc_branch.web.sites[0].name" for r in apex)
    # with apex_web the apex already points at the only web VM: no second copy
    m = _model({"sites": [{"name": DOMAIN}]}, moodle=False)
    assert len([r for r in _records(m) if r[0] == "@" and r[1] == "A"]) == 1


def test_a_site_in_a_mail_domain_is_published_there():
    m = _model({"sites": [{"name": "www.shop.test"}]}, mail_domains=["shop.test"])
    recs = _records(m, "shop.test")
    assert ("www", "CNAME", "web1.%s." % DOMAIN, "smbvdc_branch.web.sites[0].name") in recs


def test_a_site_outside_the_branch_zones_is_not_published():
    m = _model({"sites": [{"name": "www.customer.example"}]})
    assert all("customer" not in r[0] for z in dns.build_zones(m, {}).values() for r in z["records"])
    assert m["web"]["sites"][0]["zone"] is None


def test_moodle_data_is_backed_up_where_the_role_keeps_it():
    """plugin_utils/checks.py backs up what the moodle role writes."""
    paths = dict(checks.SERVICE_PATHS["moodle"])
    import yaml
    import pathlib
    defaults = yaml.safe_load((pathlib.Path(__file__).resolve().parents[4] / "roles" / "moodle" / "defaults" /
                               "main.yml").read_text())
    assert defaults["moodle_data_dir"] in paths


# --- the filter ---------------------------------------------------------------------------------------
def test_web_sites_filter_gives_vhosts_and_pools():
    f = FilterModule().filters()["web_sites"]
    m = _model({"sites": [{"name": "www", "aliases": ["intranet"]}]})
    everything = f(m)
    assert sorted(everything) == ["web1"]
    w = f(m, host="web1")
    assert w == everything["web1"]
    assert w["fqdn"] == "web1.%s" % DOMAIN
    assert w["addresses"] == [m["vms"]["web1"]["ipv4"], m["vms"]["web1"]["ipv6"]]
    assert [s["name"] for s in w["sites"]] == ["www.%s" % DOMAIN, "moodle.%s" % DOMAIN]
    assert w["sites"][0]["names"] == ["www.%s" % DOMAIN, "intranet.%s" % DOMAIN]
    assert w["sites"][0]["pool"] is None
    assert w["sites"][1]["pool"] == "/run/php/php8.2-fpm-moodle.sock"
    (pool,) = w["pools"]
    assert (pool["name"], pool["user"], pool["group"]) == ("moodle", "moodle", "moodle")
    assert int(pool["php_admin_value"]["max_input_vars"]) >= 5000
    assert w["apps"] == ["moodle"]
    assert (w["memory_mb"], w["memory_needed_mb"]) == (1024, 768)
    assert w["default_site"]["name"] == "web1.%s" % DOMAIN
    # the VM's name leads to its application, not to the static site listed first
    assert w["default_site"]["redirect"] == "https://moodle.%s" % DOMAIN
    static_only = f(_model({"sites": [{"name": "www"}]}, moodle=False), host="web1")
    assert static_only["default_site"]["redirect"] == "https://www.%s" % DOMAIN


def test_web_sites_filter_errors():
    f = FilterModule().filters()["web_sites"]
    with pytest.raises(AnsibleFilterError, match="smbvdc.datacenter.web_sites: input must be the branch model"):
        f({"nope": 1})
    with pytest.raises(AnsibleFilterError, match="mail1 is not a web VM of the branch"):
        f(_model(), host="mail1")


# --- the file cloud (roles/nextcloud) -------------------------------------------------------------------
def _cloud_model():
    branch, inv = _branch(web1_mb=1280)
    inv["groups"]["owncloud"] = ["web1"]
    return build_model(branch, inv)


def test_an_owncloud_vm_gets_the_cloud_site_and_a_nextcloud_pool():
    w = FilterModule().filters()["web_sites"](_cloud_model(), host="web1")
    (site,) = [s for s in w["sites"] if s["app"] == "nextcloud"]
    assert site["name"] == "cloud.%s" % DOMAIN and site["names"] == ["cloud.%s" % DOMAIN]
    assert site["wwwroot"] == "https://cloud.%s" % DOMAIN
    assert site["app_root"] == site["document_root"] == "/var/www/nextcloud"
    assert site["pool"] == "/run/php/php8.2-fpm-nextcloud.sock"
    pools = {p["name"]: p for p in w["pools"]}
    assert sorted(pools) == ["moodle", "nextcloud"]
    nc = pools["nextcloud"]
    assert (nc["user"], nc["group"]) == ("nextcloud", "nextcloud")
    # what Nextcloud's setup check asks of the pool
    assert nc["php_admin_value"]["memory_limit"] == "512M"
    assert nc["env"]["PATH"].split(":")[:1] == ["/usr/local/bin"]
    assert pools["moodle"]["env"] == {}
    # the VM's own name still leads to the first application site (Moodle)
    assert w["default_site"]["redirect"] == "https://moodle.%s" % DOMAIN


def test_nextcloud_data_is_backed_up_where_the_role_keeps_it():
    """plugin_utils/checks.py backs up what the nextcloud role writes, and it is outside the web root."""
    import pathlib
    import yaml
    defaults = yaml.safe_load((pathlib.Path(__file__).resolve().parents[4] / "roles" / "nextcloud" / "defaults" /
                               "main.yml").read_text())
    assert defaults["nextcloud_data_dir"] in dict(checks.SERVICE_PATHS["owncloud"])
    root = web.APP_PATHS["nextcloud"]["document_root"]
    assert not (defaults["nextcloud_data_dir"] + "/").startswith(root + "/")


def test_the_file_cloud_is_watched_by_its_status_page():
    """Nagios asks the cloud site's status.php for "installed":true."""
    services = [c for c in checks.monitoring_plan(_cloud_model())["services"] if c["host"] == "web1"]
    (status,) = [c for c in services if c["description"] == "File cloud status"]
    # the cloud site's own name: the VM's name would redirect to Moodle, the VM's first application
    assert status["check_command"] == 'smbvdc_check_https_string!cloud.%s!/status.php!"installed":true' % DOMAIN
    (login,) = [c for c in services if c["description"] == "Moodle login"]
    assert login["check_command"] == "smbvdc_check_https_string!moodle.%s!/login/index.php!login" % DOMAIN
