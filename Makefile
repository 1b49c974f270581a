# smbvdc.datacenter - the two commands a new user needs:
#   make lab    bring up the lab branch on this machine (inventories/lab)
#   make test   lint, unit tests, integration tests and molecule scenarios
# Both run `make setup` first, which installs everything they need.

SHELL := /bin/bash
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
LAB_INVENTORY ?= inventories/lab
LAB_MULTI_INVENTORY ?= inventories/lab-multi
# MITOGEN=1: the lab targets run with the Mitogen strategy (one Python per
# host for the whole run instead of one per task; docs/performance.md).
# Recursively expanded, so it finds the package `make setup` installs.
ifeq ($(MITOGEN),1)
export ANSIBLE_STRATEGY_PLUGINS = $(shell $(VENV)/bin/python -c 'import ansible_mitogen, os; print(os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins", "strategy"))')
export ANSIBLE_STRATEGY = mitogen_linear
endif
# Molecule scenarios run by `make test` (each: create, converge, idempotence, verify, destroy)
MOLECULE_SCENARIOS ?= $(shell ls -d molecule/*/molecule.yml 2>/dev/null | cut -d/ -f2)

.PHONY: help setup setup-nodocker lint unit integration molecule test lab lab-check lab-fault-drill lab-restore-drill lab-reboot-drill lab-multi lab-multi-check lab-multi-add-vm lab-multi-down lab-multi-migration-test capacity report bench bench-placement bench-dns bench-provision bench-mail bench-backup bench-web bench-rerun build clean

help:
	@echo "make lab      - bring up the lab branch (inventories/lab) on this machine"
	@echo "make lab-multi - the two-host lab: second KVM host kvm2 + site.yml on inventories/lab-multi"
	@echo "make lab-fault-drill   - stop services on the lab, Nagios must see them and mail the admin"
	@echo "make lab-restore-drill - back up, destroy and restore a mailbox, a database and a Moodle file"
	@echo "make lab-reboot-drill  - shut every lab VM down, restart libvirtd: all back by autostart, changed=0"
	@echo "make lab-multi-check - checks of the two-host lab (LAB_MULTI_MIGRATE=1: live-migrate web1 too)"
	@echo "make test     - lint + unit + integration + molecule (installs what it needs)"
	@echo "make capacity - print the capacity plan of LAB_INVENTORY (no host touched)"
	@echo "make report   - write build/report/<branch>/index.html: topology, capacity, last status (no host touched)"
	@echo "make bench    - run the benchmarks in bench/ (bench-placement, bench-dns, ...)"
	@echo "make build    - build the collection tarball"

setup:
	@scripts/setup.sh

setup-nodocker:
	@scripts/setup.sh --no-docker

lint: setup-nodocker
	yamllint -s .
	ansible-lint

unit: setup-nodocker
	pytest tests/unit

integration: setup
	pytest -m integration -o testpaths=tests/integration tests/integration

molecule: setup
	@set -e; for s in $(MOLECULE_SCENARIOS); do molecule test -s $$s; done

test:
	@scripts/test.sh

lab: setup
	scripts/lab-up.sh $(LAB_INVENTORY)

# DNS, mail, web, VMs, monitoring and backups of the running lab (or
# LAB_INVENTORY): playbooks/status.yml, the branch status any
# branch gets (docs/status.md); prints one table and
# `status: N passed, N failed, N not checked`, fails naming every failed check.
lab-check: setup-nodocker
	ansible-playbook -i $(LAB_INVENTORY) playbooks/status.yml

# Stop postfix on mail1, nsd on ns2 and apache2 on web1 in turn: Nagios on
# mon1 must see each CRITICAL and OK again, and mail the admin over IMAP;
# prints detection times and `fault-drill: N passed, N failed`.
lab-fault-drill: setup-nodocker
	python scripts/lab-fault-drill.py -i $(LAB_INVENTORY)

# Write a mailbox, a MariaDB database and a Moodle file, amdump on bak1,
# destroy, restore (amrecover, amfetchdump), compare byte for byte and by
# row counts; prints sizes, times and `restore-drill: N passed, N failed`.
lab-restore-drill: setup-nodocker
	python scripts/lab-restore-drill.py -i $(LAB_INVENTORY)

# Shut every lab VM down at once, restart libvirtd as the host does at boot:
# autostart must bring every VM back with every watched unit active, then
# site.yml must report changed=0 and status.yml pass (docs/vm-lifecycle.md);
# prints `reboot-drill: N passed, N failed`.
lab-reboot-drill: setup-nodocker
	python scripts/lab-reboot-drill.py -i $(LAB_INVENTORY) --converge --check

# The two-host lab (docs/multi-host.md): kvm2 is a systemd-nspawn container
# with its own libvirtd on this machine, its VM bridge joined to this host's
# at layer 2; then the branch of inventories/lab-multi on both hosts.
lab-multi: setup
	scripts/lab-second-host.sh up
	ansible-playbook -i $(LAB_MULTI_INVENTORY) playbooks/site.yml

# kvm2 answers, every VM on exactly one host and running, ns1/ns2 on
# different hosts, playbooks/status.yml on the branch; LAB_MULTI_MIGRATE=1 also moves
# web1 live there and back under an HTTP probe.
lab-multi-check: setup-nodocker
	LAB_MULTI_INVENTORY=$(LAB_MULTI_INVENTORY) scripts/lab-multi-check.sh

# Adding a VM moves none: vms.yml on a copy of the inventory with one VM
# more; hosts, UUIDs, disk files and addresses of the others must not change.
lab-multi-add-vm: setup-nodocker
	LAB_MULTI_INVENTORY=$(LAB_MULTI_INVENTORY) scripts/lab-multi-add-vm.sh

# A throw-away guest migrated live kvm1 -> kvm2 -> kvm1 (times and ping gap),
# through playbooks/tasks/live_migrate.yml; needs kvm2 up, not the branch.
lab-multi-migration-test: setup-nodocker
	scripts/lab-second-host.sh up
	scripts/lab-migration-test.sh --playbook

# Remove kvm2 (its VMs die with it) and everything lab-second-host.sh created.
lab-multi-down:
	scripts/lab-second-host.sh down

capacity: setup-nodocker
	ansible-playbook -i $(LAB_INVENTORY) playbooks/capacity.yml

# One self-contained HTML page of the branch in build/report/<branch>/index.html:
# topology picture (graphviz), capacity tables, last status results
# (docs/report.md); no host is contacted.
report: setup-nodocker
	ansible-playbook -i $(LAB_INVENTORY) playbooks/report.yml

# Benchmarks print measured figures and ratios against a baseline measured
# in the same run; they are not tests.
bench: bench-placement bench-dns bench-provision bench-mail bench-backup bench-web

# A no-change site.yml on the running lab with ansible's defaults, the repo's
# settings and Mitogen; prints where the time goes and
# `rerun: first_build_s=... nochange_s=... ratio=... speedup_vs_defaults=...`.
bench-rerun: setup-nodocker
	python bench/rerun.py -i $(LAB_INVENTORY)

bench-placement: setup-nodocker
	python bench/placement.py

# Two real NSD daemons on loopback (installs the nsd package when missing).
bench-dns: setup-nodocker
	@command -v nsd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nsd
	python bench/dns_propagation.py

# Real emulated VMs under libvirt (linked clone vs copy, boot to SSH).
bench-provision: setup-nodocker
	python bench/provision.py

# The mail host of molecule/mail in a systemd container (needs docker).
bench-mail: setup
	python bench/mail_throughput.py

# The Moodle login page and a static page in molecule/web's container,
# PHP-FPM with opcache against without (needs docker).
bench-web: setup
	python bench/web.py

# amdump against tar | gzip of 1.25 GiB in molecule/amanda's containers.
bench-backup: setup
	python bench/backup.py

build: setup-nodocker
	ansible-galaxy collection build --force --output-path build/

clean:
	rm -rf build/ .pytest_cache tests/output
