"""Reference for `pklinspect dis`: CPython's pickletools.dis over every pickle in a file.

The first pickle is listed exactly as `python -m pickletools FILE` lists it. While bytes
remain and the next byte is an opcode, the next pickle follows a blank line and the
header `==> pickle N at offset X <==` (offsets count from the start of the file, as
pickletools counts them when it reads on from the same file object). Bytes that do not
start with an opcode end the listing (pklinspect warns about them on stderr).
Exit status: 0, or 2 when pickletools raised (after the lines it printed).

Usage: pickletools_all.py [-a] [-l N] [-m] FILE
       pickletools_all.py --batch OUTDIR [-a] [-l N] [-m] FILE...   (writes OUTDIR/<i>.out, .code)
"""
import argparse
import io
import os
import pickletools
import sys

OPCODE_BYTES = {op.code.encode("latin-1") for op in pickletools.opcodes}


def dis_all(data, out, annotate, indentlevel, keep_memo):
    f = io.BytesIO(data)
    memo = {}
    count = 0
    try:
        while True:
            if count:
                pos = f.tell()
                if pos >= len(data) or data[pos:pos + 1] not in OPCODE_BYTES:
                    break
                out.write("\n==> pickle %d at offset %d <==\n" % (count + 1, pos))
                if not keep_memo:
                    memo = {}
            pickletools.dis(f, out, memo, indentlevel, 30 if annotate else 0)
            count += 1
    except Exception as e:  # pickletools raises ValueError, UnicodeDecodeError, ...
        return 2, "%s: %s" % (type(e).__name__, e)
    return 0, ""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch")
    parser.add_argument("-a", action="store_true")
    parser.add_argument("-l", type=int, default=4)
    parser.add_argument("-m", action="store_true")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    if args.batch is None:
        with open(args.files[0], "rb") as f:
            code, err = dis_all(f.read(), sys.stdout, args.a, args.l, args.m)
        if err:
            print(err, file=sys.stderr)
        sys.exit(code)
    for i, path in enumerate(args.files):
        with open(path, "rb") as f:
            data = f.read()
        out = io.StringIO()
        code, err = dis_all(data, out, args.a, args.l, args.m)
        with open(os.path.join(args.batch, "%d.out" % i), "w", encoding="utf-8", newline="") as f:
            f.write(out.getvalue())
        with open(os.path.join(args.batch, "%d.code" % i), "w") as f:
            f.write("%d\n%s\n" % (code, err))


if __name__ == "__main__":
    main()
