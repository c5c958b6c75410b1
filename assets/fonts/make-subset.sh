#!/usr/bin/env bash
# Makes assets/fonts/DejaVuSans-subset.ttf, the font recap's PNG figures are drawn with
# (src/plot/font.rs embeds it with include_bytes!; SVG figures name "sans-serif" and use the
# viewer's font). DejaVu Sans 2.37 (Debian's fonts-dejavu-core) cut down to ASCII, Latin-1,
# the minus sign, en/em dashes, arrows and the Greek letters the figures print (τ, λ, ...),
# hinting dropped, every name record (licence included) kept. Licence: LICENSE-DejaVu.txt
# (the text of the font's own name record 13, extracted by this script).
#
#   python3 -m venv /tmp/ftvenv && /tmp/ftvenv/bin/pip install fonttools
#   PYFTSUBSET=/tmp/ftvenv/bin/pyftsubset PYTHON=/tmp/ftvenv/bin/python assets/fonts/make-subset.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="${DEJAVU_SANS:-/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf}"
pyftsubset="${PYFTSUBSET:-pyftsubset}"
python="${PYTHON:-python3}"
# U+0020-007E ASCII, U+00A0-00FF Latin-1, U+0391-03C9 Greek capitals and small letters,
# U+2013-2014 dashes, U+2022 bullet, U+2026 ellipsis, U+2190-2193 arrows, U+2212 minus,
# U+2248 ≈, U+2264-2265 ≤ ≥.
"$pyftsubset" "$src" \
    --unicodes="U+0020-007E,U+00A0-00FF,U+0391-03A9,U+03B1-03C9,U+2013-2014,U+2022,U+2026,U+2190-2193,U+2212,U+2248,U+2264-2265" \
    --layout-features='kern' --no-hinting --desubroutinize \
    --name-IDs='*' --name-languages='*' --name-legacy \
    --output-file="$here/DejaVuSans-subset.ttf"
"$python" - "$src" "$here/LICENSE-DejaVu.txt" <<'PY'
import sys
from fontTools.ttLib import TTFont
font = TTFont(sys.argv[1])
text = font["name"].getName(13, 3, 1, 0x409).toUnicode()
open(sys.argv[2], "w").write(text.rstrip() + "\n")
PY
ls -l "$here/DejaVuSans-subset.ttf"
