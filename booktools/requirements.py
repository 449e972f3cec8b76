"""The one reader of requirements.txt, the site's one pinned list: the pins and the Python
version they are for (its `# Python: X.Y` line)."""
import re
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"


def read_pins(path=REQUIREMENTS):
    """The requirement lines of `path`, without comments or blank lines."""
    pins = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pins.append(line)
    return pins


def pinned_versions(path=REQUIREMENTS):
    """{distribution name: pinned version}."""
    return dict(pin.split("==") for pin in read_pins(path))


def python_version(path=REQUIREMENTS):
    """The Python version the pins are for ('3.11'), from the file's `# Python: X.Y` line."""
    match = re.search(r"^# Python: (\d+\.\d+)\s*$", Path(path).read_text(), re.M)
    if not match:
        raise ValueError(f"{path} has no '# Python: X.Y' line")
    return match.group(1)
