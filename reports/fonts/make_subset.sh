#!/usr/bin/env bash
# Rebuilds NotoSansSC-Regular-subset.otf: Noto Sans CJK SC Regular (Debian's fonts-noto-cjk
# 1:20220127+repack1-1, Noto Sans CJK 2.004) cut down to GB2312 (all 6,763 hanzi and its
# symbols), ASCII, full-width forms and a few report symbols. Needs fontTools (pip install
# fonttools) and network access to Debian's archive; the binary itself never needs either.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download fonts-noto-cjk=1:20220127+repack1-1
dpkg-deb -x fonts-noto-cjk_*.deb noto
python3 - <<'PY'
chars = set()
for hi in range(0xA1, 0xF8):
    for lo in range(0xA1, 0xFF):
        try:
            chars.add(bytes([hi, lo]).decode("gb2312"))
        except UnicodeDecodeError:
            pass
chars.update(chr(c) for c in range(0x20, 0x7F))
chars.update("〔〕【】《》「」『』、。，；：？！（）…—–·％＋－×÷±≥≤℃‰→↑↓▲▼●○■□◆◇★☆✓✗")
chars.update(chr(c) for c in range(0xFF01, 0xFF5F))
open("chars.txt", "w").write("".join(sorted(chars)))
PY
# Face 2 of the collection is Simplified Chinese.
pyftsubset noto/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc --font-number=2 \
  --text-file=chars.txt --layout-features='' --no-hinting --name-IDs='*' \
  --output-file="$here/NotoSansSC-Regular-subset.otf"
