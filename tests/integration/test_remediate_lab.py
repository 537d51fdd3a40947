"""remediate against the lab: a dry run touches nothing, an apply is verified and idempotent, a refusal rolls back.

The router is the lab's IOS SSH simulator (no Cisco image runs here); it keeps running and startup
configurations and records every command it receives, which is what proves the dry run.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

pytestmark = [pytest.mark.lab, pytest.mark.playbook]
if os.geteuid() != 0 or not pathlib.Path("/usr/sbin/sshd").exists():
    pytest.skip("the lab needs root (network namespaces) and openssh-server", allow_module_level=True)

from lab import Lab  # noqa: E402

LINKS = [{"from": "fw1:eth0", "to": "border-rtr1:GigabitEthernet0/0"}]


def remediate(lab, tmp_path, strategy, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"))
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "diffserv.audit.remediate", "-i", str(lab.inventory_path), "-e",
         json.dumps({"diffserv_links": LINKS, "diffserv_strategy": strategy}), *extra],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def test_check_diff_shows_the_change_and_sends_no_configuration_command(tmp_path):
    with Lab(firewalls=1, routers=1) as lab:
        router = lab.routers[0]
        before = router.running_config()
        run = remediate(lab, tmp_path, "change_dscp", "--check", "--diff")
        assert run.returncode == 0, run.stdout[-3000:]
        assert "-  set ip dscp 1" in run.stdout and "+  set ip dscp 3" in run.stdout
        assert router.config_commands() == []
        assert router.running_config() == before


def test_apply_is_verified_then_a_second_run_changes_nothing(tmp_path):
    with Lab(firewalls=1, routers=1) as lab:
        router = lab.routers[0]
        first = remediate(lab, tmp_path, "change_dscp")
        assert first.returncode == 0, first.stdout[-4000:]
        assert "changed: [localhost]" in first.stdout
        running = router.running_config()
        assert "set ip dscp 3" in running and "set ip dscp 1" not in running
        assert "dscp 3" in running.split("access-list 106")[1].split("\n")[0] or "dscp 3" in running
        assert list((tmp_path / "backups").glob("border-rtr1.*.running")), "no backup written"
        assert router.config_commands(), "the apply sent no configuration command"
        second = remediate(lab, tmp_path, "change_dscp")
        assert second.returncode == 0, second.stdout[-3000:]
        assert "changed=0" in second.stdout


def test_a_refused_command_is_rolled_back_with_the_device_words(tmp_path):
    with Lab(firewalls=1, routers=1, faults={"*": {"reject_commands": [r"^set ip dscp 3$"]}}) as lab:
        router = lab.routers[0]
        before = router.running_config()
        run = remediate(lab, tmp_path, "change_dscp")
        assert run.returncode != 0
        assert "Invalid input detected" in run.stdout and "rolled back" in run.stdout
        assert router.running_config() == before


def test_drift_stops_the_apply_before_any_command(tmp_path):
    sys.path.insert(0, str(ROOT / ".collections"))
    from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact
    from ansible_collections.diffserv.audit.plugins.plugin_utils.session import CollectError, Target, apply_ios

    with Lab(firewalls=0, routers=1) as lab:
        router = lab.routers[0]
        params = router.netmiko_params()
        audited = redact(router.running_config()).replace("access-list 106 permit ip any any dscp 1",
                                                          "access-list 106 permit ip any any dscp 2")
        target = Target(host=params["host"], port=params["port"], username=params["username"],
                        password=params["password"], become_password=params.get("secret"),
                        host_key_checking=False, timeout=10)
        with pytest.raises(CollectError, match="changed since the audit; nothing was sent") as raised:
            apply_ios(target, ["ip access-list extended 106", " 20 permit ip any any dscp 3", " exit"], [],
                      audited, redact, lambda after: None, lambda text: None)
        assert "-access-list 106 permit ip any any dscp 2" in str(raised.value)
        assert "+access-list 106 permit ip any any dscp 1" in str(raised.value)
        assert router.config_commands() == []


def test_a_device_going_silent_mid_apply_is_reported_with_what_it_applied(tmp_path):
    # The apply session sends: terminal width, terminal length, enable, the secret, show running-config,
    # configure terminal, then the change. Silent after 7 commands: mid-change.
    with Lab(firewalls=1, routers=1, faults={"*": {"silent_after_commands": 7}}) as lab:
        run = remediate(lab, tmp_path, "change_dscp", "-e", "diffserv_collect_timeout=6")
    assert run.returncode != 0
    assert "stopped answering during the change" in run.stdout
    assert "what it applied, against the audited configuration" in run.stdout or "applied nothing" in run.stdout


@pytest.mark.parametrize("strategy, gone", [("remove_policy", "ip policy route-map null_policy_route")])
def test_other_strategies_apply_and_settle(tmp_path, strategy, gone):
    with Lab(firewalls=1, routers=1) as lab:
        first = remediate(lab, tmp_path, strategy)
        assert first.returncode == 0, first.stdout[-4000:]
        assert gone not in lab.routers[0].running_config()
        second = remediate(lab, tmp_path, strategy)
        assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]


def test_exempt_flows_dry_runs_then_inserts_the_entries_by_sequence_number_and_settles(tmp_path):
    with Lab(firewalls=1, routers=1) as lab:
        router = lab.routers[0]
        before = router.running_config()
        dry = remediate(lab, tmp_path, "exempt_flows", "--check", "--diff")
        assert dry.returncode == 0, dry.stdout[-4000:]
        assert "+access-list 106 deny   tcp any any gt 511 dscp 1" in dry.stdout, dry.stdout[-4000:]
        assert router.config_commands() == [] and router.running_config() == before
        first = remediate(lab, tmp_path, "exempt_flows")
        assert first.returncode == 0, first.stdout[-4000:]
        lines = router.running_config().split("\n")
        # The partner's flows go first; the worm filter stays for every other DSCP 1 packet.
        exempt = lines.index("access-list 106 deny   tcp any any gt 511 dscp 1")
        assert exempt < lines.index("access-list 106 permit ip any any dscp 1")
        assert " ip policy route-map null_policy_route" in lines
        second = remediate(lab, tmp_path, "exempt_flows")
        assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]


def test_remark_boundary_changes_the_router_and_our_firewall_then_settles(tmp_path):
    with Lab(firewalls=1, routers=1, sudo="password") as lab:
        first = remediate(lab, tmp_path, "remark_boundary")
        assert first.returncode == 0, first.stdout[-4000:]
        mangle = lab.firewalls[0].iptables_save("mangle")
        assert "-A POSTROUTING -o eth0 -j DSCP --set-dscp 0x00" in mangle
        assert "set ip dscp default" in lab.routers[0].running_config()
        second = remediate(lab, tmp_path, "remark_boundary")
        assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]


# ------------------------------------------------------------------ remark_boundary on a native nft host (issue 15)
NATIVE = ROOT / "tests" / "fixtures" / "inputs" / "nft" / "partner-fw.nft"
SHOW = {"iptables-save", "ip6tables-save", "nft list ruleset"}
ADDED = "\n".join(["table inet diffserv_audit {", "\tchain postrouting {",
                   "\t\ttype filter hook postrouting priority mangle + 10; policy accept;",
                   '\t\toifname "eth0" ip dscp set cs0', '\t\toifname "eth0" ip6 dscp set cs0', "\t}", "}"]) + "\n"


def nft_host(lab, native=NATIVE):
    """The lab firewall as a partner running nft: the founding incident as a native table, no iptables rule
    (`native=None`: the rules as they are); its platform left to the group (the lab's inventory forces
    iptables); every command sudo runs for its user logged (sudo's own log, one line a command: what the
    device was asked to do as root)."""
    import yaml

    firewall = lab.firewalls[0]
    if native is not None:
        firewall.run(["nft", "flush", "ruleset"])
        firewall.run(["nft", "-f", str(native)])
    inventory = yaml.safe_load(lab.inventory_path.read_text())
    for values in inventory["all"]["children"]["linux_firewalls"]["hosts"].values():
        values.pop("diffserv_platform", None)
    lab.inventory_path.write_text(yaml.safe_dump(inventory))
    log = pathlib.Path(firewall.state_dir) / "sudo.log"
    sudoers = pathlib.Path("/etc/sudoers.d") / firewall.netns  # the lab's own file, removed by lab.down()
    sudoers.write_text(sudoers.read_text() + "Defaults:%s logfile=%s, loglinelen=0\n" % (firewall.user, log))
    subprocess.run(["visudo", "-cf", str(sudoers)], check=True, capture_output=True)
    return firewall, log


def root_commands(log):
    """What sudo ran as root, in order (sudo logs `... ; COMMAND=/usr/sbin/nft list ruleset`)."""
    if not log.exists():
        return []
    found = []
    for line in log.read_text().splitlines():
        if "COMMAND=" in line:
            command = line.split("COMMAND=", 1)[1].strip()
            found.append(" ".join([pathlib.PurePath(command.split()[0]).name] + command.split()[1:]))
    return found


def listing(firewall):
    return firewall.run(["nft", "list", "ruleset"]).stdout


def wire_byte(firewall, dport=28680, protocol="tcp"):
    """The DS byte the kernel puts on the wire: a packet the firewall sends out of eth0 (the output path, so
    mangle's postrouting chains run on it), captured on the other end of the link, in the root namespace."""
    import os as _os
    import select
    import socket

    from tests.kernel.netns_lab import _parse_capture, build_packet, in_netns

    capture = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    capture.bind((firewall.veth, 0x0800))
    capture.setblocking(False)
    sender = in_netns(firewall.netns, lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW))
    try:
        marker = b"diffserv-wire" + _os.urandom(4)
        packet = build_packet(protocol=protocol, src=firewall.host, dst=firewall.peer, sport=25, dport=dport, tos=0,
                              ip_id=4242, payload=marker)
        for _attempt in range(3):
            sender.sendto(packet, (firewall.peer, 0))
            ready, _, _ = select.select([capture], [], [], 1.0)
            while ready:
                try:
                    data = capture.recv(65535)
                except BlockingIOError:
                    break
                parsed = _parse_capture(data)
                if parsed and parsed[2].startswith(marker):
                    return parsed[0]
        return None
    finally:
        capture.close()
        sender.close()


def test_remark_boundary_on_an_nft_host_dry_run_apply_wire_and_settle(tmp_path):
    with Lab(firewalls=1, routers=1, sudo_all=True) as lab:
        firewall, log = nft_host(lab)
        router = lab.routers[0]
        original, router_before = listing(firewall), router.running_config()
        # The founding flow (a reply from port 25 to a high port) leaves with 0x04: DSCP 1.
        assert wire_byte(firewall) == 0x04

        dry = remediate(lab, tmp_path, "remark_boundary", "--check", "--diff")
        assert dry.returncode == 0, dry.stdout[-4000:]
        # Ansible's diff: the ruleset as audited, then the candidate with the table added as nft lists it.
        assert "+table inet diffserv_audit {" in dry.stdout
        assert "+\t\ttype filter hook postrouting priority mangle + 10; policy accept;" in dry.stdout
        assert '+\t\toifname "eth0" ip dscp set cs0' in dry.stdout
        ran = root_commands(log)
        assert ran and set(ran) <= SHOW and "nft list ruleset" in ran, ran
        assert listing(firewall) == original and router.config_commands() == []
        assert router.running_config() == router_before

        shown = len(ran)
        first = remediate(lab, tmp_path, "remark_boundary")
        assert first.returncode == 0, first.stdout[-4000:]
        assert listing(firewall) == original + ADDED
        loaded = root_commands(log)[shown:]
        # One transaction: nft checks the file (-c, nothing loaded), then loads it; the rest are show commands.
        changes = [command for command in loaded if command not in SHOW]
        assert len(changes) == 2 and changes[0].startswith("nft -c -f /tmp/diffserv-audit-") and \
            changes[1] == changes[0].replace("-c -f", "-f"), loaded
        assert list((tmp_path / "backups").glob("fw1.*.running")), "no backup of the ruleset"
        assert "set ip dscp default" in router.running_config()
        # The kernel now puts DS byte 0x00 on the wire for the founding flow.
        assert wire_byte(firewall) == 0x00

        settled = len(root_commands(log))
        second = remediate(lab, tmp_path, "remark_boundary")
        assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]
        assert set(root_commands(log)[settled:]) <= SHOW

        # The planned rollback (the bundle's .rollback: one nft file) restores the ruleset byte for byte.
        firewall.run(["nft", "-f", "-"], input_text="delete table inet diffserv_audit\n")
        assert listing(firewall) == original
        assert wire_byte(firewall) == 0x04


def test_an_nft_apply_that_fails_verification_is_rolled_back_to_the_ruleset_byte_for_byte(tmp_path):
    sys.path.insert(0, str(ROOT / ".collections"))
    from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact
    from ansible_collections.diffserv.audit.plugins.module_utils.remediation import nftables as nft
    from ansible_collections.diffserv.audit.plugins.plugin_utils.session import CollectError, Target, apply_nftables

    with Lab(firewalls=1, routers=0, sudo_all=True) as lab:
        firewall, log = nft_host(lab)
        original = listing(firewall)
        placed = nft.place_clear_chain(original, "fw1", ["eth0"])
        params = firewall.netmiko_params()
        target = Target(host=params["host"], port=params["port"], username=params["username"],
                        password=params["password"], become_password=params["secret"], host_key_checking=False,
                        timeout=10)
        saved = []
        with pytest.raises(CollectError, match="the re-audit says no; rolled back$"):
            apply_nftables(target, redact(original), placed.candidate, placed.commands, placed.rollback, redact,
                           lambda after: "the re-audit says no" if "table inet diffserv_audit" in after else None,
                           saved.append)
        assert listing(firewall) == original
        # The backup is the listing as the session read it before the load (rules compared: the session's
        # output carries the shell's line ends).
        assert len(saved) == 1 and nft.rules_only(saved[0]) == nft.rules_only(redact(original))
        # Checked, loaded, then undone by the rollback file (delete table), each one nft -f transaction.
        checked, loaded, undone = [c for c in root_commands(log) if c not in SHOW][-3:]
        assert checked.startswith("nft -c -f /tmp/diffserv-audit-") and loaded == checked.replace("-c -f", "-f")
        assert undone == loaded.replace(".nft", "-rollback.nft")
        assert wire_byte(firewall) == 0x04

        # A check that cannot finish (here the re-audit raises) undoes the change too.
        def broken(after):
            raise ValueError("re-audit crashed")

        with pytest.raises(CollectError, match=r"could not be checked \(re-audit crashed\); rolled back$"):
            apply_nftables(target, redact(original), placed.candidate, placed.commands, placed.rollback, redact,
                           broken, saved.append)
        assert listing(firewall) == original

        # Drift: a ruleset that changed since the audit stops the apply before any change is sent.
        before = root_commands(log)
        audited = redact(original).replace("tcp dport 512-65535", "tcp dport 1024-65535")
        with pytest.raises(CollectError, match="changed since the audit; nothing was loaded"):
            apply_nftables(target, audited, placed.candidate, placed.commands, placed.rollback, redact,
                           lambda after: None, saved.append)
        assert root_commands(log)[len(before):] == ["nft list ruleset"]
        assert listing(firewall) == original


# Beside the partner's iptables-nft dump (the lab's default rules), a native table marking UDP and
# clearing TCP 40000-65535 after iptables' mangle (priority mangle + 10).
BESIDE = """table inet partner_voice {
\tchain post {
\t\ttype filter hook postrouting priority mangle + 10; policy accept;
\t\toifname "eth0" udp dport 4000-4100 ip dscp set lephb
\t\toifname "eth0" tcp dport 40000-65535 ip dscp set cs0
\t}
}
"""


def test_remark_boundary_on_a_host_running_iptables_nft_and_native_tables_follows_both(tmp_path):
    sys.path.insert(0, str(ROOT / ".collections"))
    from ansible_collections.diffserv.audit.plugins.module_utils.remediation import nftables as nft

    with Lab(firewalls=1, routers=1, sudo_all=True) as lab:
        firewall = lab.firewalls[0]
        firewall.run(["nft", "-f", "-"], input_text=BESIDE)
        _firewall, log = nft_host(lab, native=None)
        original = listing(firewall)
        assert "table ip mangle" in original and wire_byte(firewall) == 0x04
        assert wire_byte(firewall, dport=4000, protocol="udp") == 0x04
        first = remediate(lab, tmp_path, "remark_boundary")
        assert first.returncode == 0, first.stdout[-4000:]
        after = listing(firewall)
        # After iptables' mangle POSTROUTING (-150, read from iptables-save) and the native chain (-140).
        assert after.endswith("\t\ttype filter hook postrouting priority -130; policy accept;\n"
                              '\t\toifname "eth0" ip dscp set cs0\n\t\toifname "eth0" ip6 dscp set cs0\n\t}\n}\n'), after
        assert wire_byte(firewall) == 0x00 and wire_byte(firewall, dport=4000, protocol="udp") == 0x00
        assert [c for c in root_commands(log) if c not in SHOW][-1].startswith("nft -f /tmp/diffserv-audit-")
        second = remediate(lab, tmp_path, "remark_boundary")
        assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]
        firewall.run(["nft", "-f", "-"], input_text="delete table inet diffserv_audit\n")
        # The iptables-nft table's counters moved with the packets sent: the rules are what must come back.
        assert nft.rules_only(listing(firewall)) == nft.rules_only(original)
        assert wire_byte(firewall) == 0x04


def test_nft_lists_the_priorities_the_writer_prints(tmp_path):
    # What the candidate text says must be what `nft list ruleset` prints back (the drift check, the
    # post-check and a second run read the listing): nft 1.0.6 names a priority within 10 of a standard one.
    sys.path.insert(0, str(ROOT / ".collections"))
    from ansible_collections.diffserv.audit.plugins.module_utils.remediation import nftables as nft

    values = (-311, -301, -300, -289, -160, -150, -140, -139, -130, -10, 0, 1, 11, 39, 50, 61, 89, 100, 110, 111,
              300, 2147483647)
    with Lab(firewalls=1, routers=0) as lab:
        firewall = lab.firewalls[0]
        firewall.run(["nft", "flush", "ruleset"])
        script = ["add table inet q"] + ["add chain inet q c%d { type filter hook postrouting priority %d; }" % (i, v)
                                         for i, v in enumerate(values)]
        firewall.run(["nft", "-f", "-"], input_text="\n".join(script) + "\n")
        printed = [line.split("priority ", 1)[1].split(";")[0] for line in listing(firewall).splitlines()
                   if "priority" in line]
    assert printed == [nft.priority_text(v) for v in values]


# ------------------------------------------------------------------ an IPv6-only firewall (issue 14, item 7)
IPV6_INPUTS = ROOT / "tests" / "fixtures" / "inputs" / "ipv6"


def test_remark_boundary_on_an_ipv6_only_firewall_loads_ip6tables_and_settles(tmp_path):
    # The IPv6 founding incident: the firewall writes Traffic Class 0x04 (ip6tables), the router's `ipv6 policy
    # route-map` sends DSCP 1 to Null0. The host has no IPv4 table at all (iptables-save prints nothing), so the
    # plan reads its ip6tables-save dump: the clearing rule is loaded with ip6tables-restore through sudo and
    # read back with ip6tables-save; IPv4 stays as it was (no table).
    version = subprocess.run(["iptables-restore", "--version"], capture_output=True, text=True).stdout
    if "nf_tables" not in version:
        pytest.skip("an IPv4-free firewall needs the nft backend (a legacy table, once loaded, stays listed)")
    router_config = tmp_path / "border-rtr1.cfg"
    router_config.write_text((IPV6_INPUTS / "border6-pbr.cfg").read_text().replace(
        "hostname border6-pbr", "hostname border-rtr1"))
    with Lab(firewalls=1, routers=1, sudo="password", router_config=router_config) as lab:
        firewall = lab.firewalls[0]
        firewall.run(["nft", "flush", "ruleset"])
        firewall.run(["ip6tables-restore"], input_text=(IPV6_INPUTS / "mail6-fw.rules").read_text())
        assert firewall.run(["iptables-save"]).stdout == ""
        dry = remediate(lab, tmp_path, "remark_boundary", "--check", "--diff")
        assert dry.returncode == 0, dry.stdout[-4000:]
        assert "-o eth0 -j DSCP --set-dscp 0x00" not in firewall.run(["ip6tables-save", "-t", "mangle"]).stdout
        first = remediate(lab, tmp_path, "remark_boundary")
        assert first.returncode == 0, first.stdout[-4000:]
        mangle = firewall.run(["ip6tables-save", "-t", "mangle"]).stdout
        assert "-A POSTROUTING -o eth0 -j DSCP --set-dscp 0x00" in mangle
        assert mangle.index("--set-tos 0x04/0xff") < mangle.index("-o eth0 -j DSCP --set-dscp 0x00")
        assert firewall.run(["iptables-save"]).stdout == ""
        assert "set dscp default" in lab.routers[0].running_config()
        second = remediate(lab, tmp_path, "remark_boundary")
        assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]


# ------------------------------------------------------------------ a firewall with both dumps
# The founding incident in both families at once: the lab's firewall writes DSCP 1 with iptables (the partner's
# dump) and Traffic Class 0x04 with ip6tables; the router null-routes DSCP 1 with `ip policy route-map` (IPv4)
# and `ipv6 policy route-map` (IPv6).
DUAL_ROUTER = (IPV6_INPUTS / "border6-pbr.cfg").read_text().replace("hostname border6-pbr", "hostname border-rtr1").replace(
    "route-map null6 permit 10", "access-list 106 permit ip any any dscp 1\n!\nroute-map null4 permit 10\n"
    " match ip address 106\n set interface Null0\n!\nroute-map null6 permit 10", 1).replace(
    " ipv6 policy route-map null6\n", " ip address 203.0.113.2 255.255.255.252\n ip policy route-map null4\n"
    " ipv6 policy route-map null6\n", 1)
CLEARING = "-A POSTROUTING -o eth0 -j DSCP --set-dscp 0x00"


def test_remark_boundary_on_a_firewall_with_both_dumps_clears_each_family_with_its_own_tool_and_settles(tmp_path):
    # The plan reads the host's iptables-save and ip6tables-save dumps: one clearing rule for each, loaded with
    # iptables-restore and ip6tables-restore through sudo, each read back with its own save command and
    # re-audited with the other's candidate; a dry run loads nothing and a second run has nothing left to do.
    router_config = tmp_path / "border-rtr1.cfg"
    router_config.write_text(DUAL_ROUTER)
    with Lab(firewalls=1, routers=1, sudo="password", router_config=router_config) as lab:
        firewall = lab.firewalls[0]
        firewall.run(["ip6tables-restore"], input_text=(IPV6_INPUTS / "mail6-fw.rules").read_text())
        before4 = firewall.run(["iptables-save", "-t", "mangle"]).stdout
        before6 = firewall.run(["ip6tables-save", "-t", "mangle"]).stdout
        assert "--set-tos 0x04/0xff" in before6 and CLEARING not in before4 + before6
        router_before = lab.routers[0].running_config()
        dry = remediate(lab, tmp_path, "remark_boundary", "--check", "--diff")
        assert dry.returncode == 0, dry.stdout[-4000:]
        assert "+" + CLEARING in dry.stdout and "fw1.ipv6 (candidate, remark_boundary)" in dry.stdout, dry.stdout[-4000:]
        assert "fw1 (candidate, remark_boundary)" in dry.stdout
        assert firewall.run(["iptables-save", "-t", "mangle"]).stdout.count(CLEARING) == 0
        assert firewall.run(["ip6tables-save", "-t", "mangle"]).stdout.count(CLEARING) == 0
        assert lab.routers[0].config_commands() == [] and lab.routers[0].running_config() == router_before
        first = remediate(lab, tmp_path, "remark_boundary")
        assert first.returncode == 0, first.stdout[-4000:]
        mangle4 = firewall.run(["iptables-save", "-t", "mangle"]).stdout
        mangle6 = firewall.run(["ip6tables-save", "-t", "mangle"]).stdout
        assert mangle4.count(CLEARING) == 1 and mangle6.count(CLEARING) == 1, (mangle4, mangle6)
        assert mangle6.index("--set-tos 0x04/0xff") < mangle6.index(CLEARING)
        assert "set dscp default" in lab.routers[0].running_config()
        backups = sorted(path.name for path in (tmp_path / "backups").glob("fw1*.running"))
        # Each dump backed up on its own: the IPv6 one does not overwrite the IPv4 one.
        assert len([n for n in backups if n.startswith("fw1.ipv6.")]) == 1 and len(backups) == 2, backups
        second = remediate(lab, tmp_path, "remark_boundary")
        assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]
        assert firewall.run(["iptables-save", "-t", "mangle"]).stdout.count(CLEARING) == 1
        assert firewall.run(["ip6tables-save", "-t", "mangle"]).stdout.count(CLEARING) == 1
