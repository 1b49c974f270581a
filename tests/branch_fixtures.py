"""Small branch descriptions for the unit tests."""

import copy


def lab():
    branch = {
        "name": "lab",
        "domain": "lab.smbvdc.test",
        "sites": [{"name": "hq"}],
        "networks": [{"name": "lan", "site": "hq", "ipv4": "10.77.10.0/24", "ipv6": "fd00:77:10::/64"}],
    }
    groups = {
        "kvm_hosts": ["kvm1"],
        "dns_primary": ["ns1"],
        "dns_secondary": ["ns2"],
        "mail": ["mail1"],
        "web": ["web1"],
    }
    hostvars = {
        "kvm1": {"kvm_memory_mb": 16384, "kvm_vcpus": 4, "kvm_disk_gb": 200},
        "ns1": {"vm_memory_mb": 512},
        "ns2": {"vm_memory_mb": 512},
        "mail1": {"vm_memory_mb": 2048, "vm_vcpus": 2},
        "web1": {"vm_memory_mb": 1024},
    }
    return branch, {"groups": groups, "hostvars": hostvars}


def two_hosts():
    branch, inv = lab()
    branch = copy.deepcopy(branch)
    branch["networks"][0]["mode"] = "bridge"
    inv["groups"]["kvm_hosts"] = ["kvm1", "kvm2"]
    inv["hostvars"]["kvm2"] = {"kvm_memory_mb": 8192, "kvm_vcpus": 4, "kvm_disk_gb": 100}
    return branch, inv
