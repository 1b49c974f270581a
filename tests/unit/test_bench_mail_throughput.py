"""bench/mail_throughput.py: the parts that run on the controller (amavis' TIMING lines)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
import mail_throughput  # noqa: E402

LOG = """\
Dec 04 23:55:43 mail1 amavis[28260]: (28260-02-4) TIMING-SA total 155 ms - parse: 0.71 (0.5%), tests_pri_0: 138 (88.9%)
Dec 04 23:55:43 mail1 amavis[28260]: (28260-02-4) size: 2405, TIMING [total 269 ms] - SMTP DATA: 42 (16%)16, \
get-file-type1: 37 (14%)32, SA check: 154 (57%)91
Dec 04 23:55:43 mail1 amavis[28259]: (28259-02-4) TIMING-SA total 129 ms - parse: 0.69 (0.5%), tests_pri_0: 97 (75.1%)
Dec 04 23:55:43 mail1 amavis[28259]: (28259-02-4) size: 2405, TIMING [total 249 ms, cpu 120 ms] - SMTP DATA: 40 (16%)16, \
get-file-type1: 45 (18%)41, SA check: 128 (51%)93
Dec 04 23:55:43 mail1 amavis[28259]: (28259-02-4) Passed CLEAN {RelayedInbound}, 249 ms
"""


def test_amavis_timing_means_per_section():
    amavis, sa = mail_throughput.amavis_timing(LOG)
    assert amavis.startswith("amavis: 2 messages, mean 259.0 ms wall each: SA check 141.0, ")
    assert "get-file-type1 41.0" in amavis and "SMTP DATA 41.0" in amavis
    assert sa.startswith("SpamAssassin: 2 messages, mean 142.0 ms wall each: tests_pri_0 117.5, parse 0.7")


def test_amavis_timing_without_timing_lines():
    assert mail_throughput.amavis_timing("Dec 04 mail1 amavis[1]: Passed CLEAN, 249 ms\n") == []


def test_the_probe_names_every_network_test_setting():
    for name in ("sa_local_tests_only", "dns_available", "skip_rbl_checks", "skip_uribl_checks", "use_razor2",
                 "use_pyzor", "use_dcc", "network_tests_on"):
        assert name in mail_throughput.SA_NETWORK_PROBE
