"""Several Asterisks in the configuration: `[[pbx]]` entries, or the one `[pbx]` of
before (one PBX named "default"); every problem at its file:line."""

from __future__ import annotations

import pytest

from config.loader import ConfigError, parse

TWO = """\
[[pbx]]
name = "paris"
enabled = true
ami_host = "10.0.0.1"
ami_secret = "s1"
agi_bind = "0.0.0.0:4573"
trunk_dial = "PJSIP/{exten}@{pbx}"
cross_pbx = "trunk"
lease_s = 4

[[pbx]]
name = "lyon"
ami_host = "10.0.0.2"
ami_secret = "s2"
agi_bind = "0.0.0.0:4574"
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse(text, "hotline.toml")
    return err.value.problems


def test_two_pbxs_are_read_in_order_the_first_one_holding_the_loops_own_keys() -> None:
    config = parse(TWO, "hotline.toml")
    assert [(p.name, p.ami_host, p.agi_bind, p.cross_pbx) for p in config.pbxs] == [
        ("paris", "10.0.0.1", "0.0.0.0:4573", "trunk"),
        ("lyon", "10.0.0.2", "0.0.0.0:4574", "same_pbx"),  # the default: its own agents only
    ]
    assert config.pbx is config.pbxs[0] and config.pbx.enabled
    # process-wide keys come from the first entry
    assert [p.lease_s for p in config.pbxs] == [4.0, 4.0] and config.pbxs[1].enabled
    assert [p.ami_secret.get_secret_value() for p in config.pbxs] == ["s1", "s2"]


def test_the_single_pbx_section_of_before_is_one_pbx_named_default() -> None:
    config = parse("[pbx]\nenabled = true\nami_port = 5039\n", "hotline.toml")
    assert [(p.name, p.ami_port) for p in config.pbxs] == [("default", 5039)]
    assert parse("", "hotline.toml").pbxs[0].name == "default"


def test_each_problem_of_an_entry_is_reported_at_its_line() -> None:
    text = TWO + (
        '\n[[pbx]]\nname = "lyon"\nami_host = "10.0.0.2"\nami_prt = 1\n'  # 17-20
        'trunk_dial = "PJSIP/nobody"\ncross_pbx = "sometimes"\ncommand_ttl_s = 5\n'  # 21-23
        '\n[[pbx]]\nami_host = "10.0.0.9"\ncross_pbx = "trunk"\n'  # 25-27
    )
    assert problems(text) == [
        "hotline.toml:20: pbx[2].ami_prt: unknown key",
        "hotline.toml:21: pbx[2].trunk_dial: must be a dial string with {exten}, e.g. 'PJSIP/{exten}@{pbx}'",
        "hotline.toml:22: pbx[2].cross_pbx: Input should be 'same_pbx' or 'trunk'",
        "hotline.toml:23: pbx[2].command_ttl_s: set it on the first [[pbx]] only (the whole live loop's)",
        "hotline.toml:25: pbx[3].name: required (each [[pbx]] names its PBX)",
        'hotline.toml:25: pbx[3].trunk_dial: required with cross_pbx = "trunk"',
    ]


def test_names_agi_binds_and_amis_must_differ() -> None:
    text = TWO.replace('name = "lyon"', 'name = "paris"').replace("4574", "4573").replace("10.0.0.2", "10.0.0.1")
    assert problems(text) == [
        "hotline.toml:12: pbx[1].name: 'paris' is pbx[0]'s name already",
        "hotline.toml:13: pbx[1].ami_host: pbx[0] uses the AMI at 10.0.0.1:5038 already",
        "hotline.toml:15: pbx[1].agi_bind: pbx[0] binds 0.0.0.0:4573 already",
    ]


def test_a_pbx_name_cannot_carry_a_colon_and_a_trunk_dial_only_exten_and_pbx() -> None:
    assert problems(
        '[[pbx]]\nname = "a:b"\n[[pbx]]\nname = "c"\nagi_bind = "127.0.0.1:1"\ntrunk_dial = "PJSIP/{who}"\n'
    ) == [
        "hotline.toml:2: pbx[0].name: String should match pattern '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$'",
        "hotline.toml:6: pbx[1].trunk_dial: must be a dial string with {exten}, e.g. 'PJSIP/{exten}@{pbx}'",
    ]
    assert problems("pbx = []\n") == ["hotline.toml:1: pbx: needs at least one [[pbx]] entry"]
