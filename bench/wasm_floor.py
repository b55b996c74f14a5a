"""The floor of a WebAssembly map: smartview's host with nothing around it. Read whole lines in blocks
of about 1 MiB, encode each 4096 records as Fluvio's SmartModuleInput, call an identity SmartModule
once, decode its SmartModuleOutput, write the values. Set against `smartview --print --map X.wasm`, the
difference is what smartview adds around the host (failure bookkeeping, formatting, the reader).

    python bench/wasm_floor.py IDENTITY.wasm FILE > out
"""

import sys
from pathlib import Path

from smartview.core.modules.wasm import encoding, host
from smartview.core.modules.wasm.module import BLOCK_LIMIT


def main(module_path: str, path: str) -> None:
    compiled = host.compile_module(Path(module_path).read_bytes())
    instance = host.Instance(compiled, sys.stderr.buffer.write)
    write = sys.stdout.buffer.write
    offset = 0
    with open(path, "rb") as f:
        rest = b""
        while True:
            chunk = f.read(1 << 20)
            data = rest + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            block, rest = data[:cut], data[cut:]
            lines = block.split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            for start in range(0, len(lines), BLOCK_LIMIT):
                if instance.memory_size() > host.RENEW_AT:
                    instance = host.Instance(compiled, sys.stderr.buffer.write)  # as smartview renews one
                part = lines[start:start + BLOCK_LIMIT]
                records = [(offset + i, None, line) for i, line in enumerate(part)]
                status, handed = instance.call("map", encoding.encode_input(records, offset), encoding.VERSION)
                outputs, _, _ = encoding.decode_output(handed)
                out = [value for _, _, value in outputs]
                out.append(b"")
                write(b"\n".join(out))
                offset += len(part)
            if not chunk:
                break


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
