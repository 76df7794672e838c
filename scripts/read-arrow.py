"""Reads a Sluice Arrow IPC output (file or stream format) with pyarrow and prints what it holds
as one JSON object: the format, the schema's fields and types, the row count, the number of
record batches and the first rows. Used by tests/arrow-ipc.test.ts; also a starting point for
opening Sluice's features in pandas (table.to_pandas()) or polars (polars.from_arrow(table))."""
import json
import sys

import pyarrow as pa
import pyarrow.ipc as ipc


def read(path: str):
    with open(path, 'rb') as f:
        head = f.read(6)
    if head == b'ARROW1':
        reader = ipc.open_file(path)
        batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
        return 'file', reader.schema, batches
    reader = ipc.open_stream(path)
    return 'stream', reader.schema, list(reader)


def main() -> None:
    path = sys.argv[1]
    head_rows = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    fmt, schema, batches = read(path)
    table = pa.Table.from_batches(batches, schema=schema)
    print(json.dumps({
        'format': fmt,
        'fields': {f.name: str(f.type) for f in schema},
        'rows': table.num_rows,
        'batches': len(batches),
        'head': table.slice(0, head_rows).to_pylist(),
    }, default=str, allow_nan=True))


if __name__ == '__main__':
    main()
