"""environment.yml (conda) and pyproject.toml (pip) must list the same dependencies."""

import re
import tomllib

import yaml

from salesanalysis.paths import REPO_DIR


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*?)\s*(?:#.*)?$", req)
    assert m, req
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    py = tomllib.loads((REPO_DIR / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = dict(_split(r) for r in py["dependencies"] + py["optional-dependencies"]["test"])
    env = yaml.safe_load((REPO_DIR / "environment.yml").read_text(encoding="utf-8"))
    have: dict[str, str] = {}
    for dep in env["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        for item in items:
            if item.startswith("-e") or item in ("pip",):
                continue
            name, spec = _split(item)
            if name == "python":
                assert spec == f">={py['requires-python'].lstrip('>=')}", "python version drifted"
                continue
            have[name] = spec
    assert have == wanted, {
        "only in environment.yml": sorted(set(have) - set(wanted)),
        "only in pyproject.toml": sorted(set(wanted) - set(have)),
        "different versions": sorted(k for k in set(have) & set(wanted) if have[k] != wanted[k]),
    }
