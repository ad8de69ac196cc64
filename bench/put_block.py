#!/usr/bin/env python3
"""Puts a benchmark script's table into BENCHMARKS.md between its markers (appending a section
under TITLE the first time), headed by the date and the machine.

    bench/put_block.py SCRIPT TABLE_FILE TITLE
"""
import datetime
import os
import re
import sys

script, table_file, title = sys.argv[1:4]
table = open(table_file).read()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
head = f"_Written by `bench/{script}` on {datetime.date.today()}; {os.cpu_count()} cores, {cpu}._\n\n"
begin, end = f"<!-- {script}:begin -->", f"<!-- {script}:end -->"
block = f"{begin}\n{head}{table}{end}"
text = open("BENCHMARKS.md").read()
if begin in text:
    text = re.sub(re.escape(begin) + ".*" + re.escape(end), lambda m: block, text, flags=re.S)
else:
    text += f"\n## {title} (`bench/{script}`)\n\n{block}\n"
open("BENCHMARKS.md", "w").write(text)
