"""Package a release: the files the release workflow attaches to a GitHub release.

    python -m booktools.release TAG [OUT]    # after `make test`; OUT defaults to _build/release

Writes, for tag v1.2.0:

    lectures-v1.2.0-site.zip               the website (serve it, or browse it offline)
    lectures-v1.2.0-book.pdf               the whole book, solutions included
    lectures-v1.2.0-<page>.pdf             each page's own PDF
    lectures-v1.2.0-notebooks.zip          the full edition's notebooks (with Binder environment)
    lectures-v1.2.0-student-notebooks.zip  the student edition's notebooks (no solutions)
    assignment-v1.2.0-<lecture>.zip        each lecture's assignment (student notebook + README)
    autograder-v1.2.0-<lecture>.zip        its Otter autograder (for Gradescope; `make grade` locally)

Everything comes from the tree `make test` built and checked; nothing is rebuilt here.
"""
import shutil
import sys
import zipfile
from pathlib import Path

from booktools.book import lectures
from booktools.layout import ASSIGNMENTS, BUILD, HTML, NOTEBOOKS, PDF, STUDENT


def write_zip(path, members, executable=()):
    """A reproducible zip of (name, bytes) members: in the given order, fixed timestamps
    and permissions, 0755 for the names in `executable` and 0644 for the rest (the
    assignments' zips are written by it too)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for arcname, data in members:
            info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if arcname in executable else 0o644) << 16
            archive.writestr(info, data)


def zip_tree(folder, path):
    """A reproducible zip of everything under `folder`, in sorted order."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    write_zip(path, [(file.relative_to(folder).as_posix(), file.read_bytes()) for file in files])


def main(tag, out=BUILD / "release"):
    out = Path(out)
    needed = [HTML / "index.html", PDF, NOTEBOOKS, STUDENT / "notebooks", ASSIGNMENTS]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        print(f"nothing to release: {', '.join(missing)} missing; run `make test` first", file=sys.stderr)
        return 1
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    zip_tree(HTML, out / f"lectures-{tag}-site.zip")
    for pdf in sorted(PDF.parent.glob("*.pdf")):
        shutil.copy(pdf, out / f"lectures-{tag}-{pdf.name}")
    zip_tree(NOTEBOOKS, out / f"lectures-{tag}-notebooks.zip")
    zip_tree(STUDENT / "notebooks", out / f"lectures-{tag}-student-notebooks.zip")
    for doc in lectures():
        name = Path(doc).name
        shutil.copy(ASSIGNMENTS / f"{name}.zip", out / f"assignment-{tag}-{name}.zip")
        shutil.copy(ASSIGNMENTS / f"{name}-autograder.zip", out / f"autograder-{tag}-{name}.zip")
    for path in sorted(out.iterdir()):
        print(path)
    return 0


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
