"""tf.train.Example records and TFRecord files without importing TensorFlow.

Data creation spends seconds and hundreds of MiB importing TensorFlow only to
serialize int lists and frame them. This module writes the same bytes:

* `encode_example`: the wire format of a `tf.train.Example` whose features
  are int64 or float lists, as `SerializeToString(deterministic=True)` writes
  it (feature map entries sorted by key; proto3 packed repeated fields).
* `write_record` / `read_records`: the TFRecord framing (uint64 length,
  masked CRC-32C of the length, data, masked CRC-32C of the data;
  tensorflow/core/lib/io/record_writer.cc), CRC-32C from `google_crc32c`.

`tests/test_tfrecord_io.py` checks both against TensorFlow byte for byte.
"""

import struct
from typing import BinaryIO, Dict, Iterator, List, Sequence, Union

import google_crc32c

_MASK_DELTA = 0xA282EAD8


def _varint(value: int) -> bytes:
  out = bytearray()
  while value > 0x7F:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


class ExampleEncoder:
  """Serializes examples of non-negative int64 lists and float lists.

  Args:
    max_int: the largest int value to encode fast (a table of varints up to
      it); larger values are encoded one by one.
  """

  def __init__(self, max_int: int):
    self._varints = [_varint(v) for v in range(max_int + 1)]

  def _length(self, value: int) -> bytes:
    table = self._varints
    return table[value] if value < len(table) else _varint(value)

  def _ints(self, values: Sequence[int]) -> bytes:
    if max(values, default=0) < 0x80:  # one byte each: masks, labels
      return bytes(values)
    table = self._varints
    try:
      return b"".join([table[v] for v in values])
    except IndexError:
      return b"".join([_varint(v) for v in values])

  def encode(self, features: Dict[str, Union[List[int], List[float]]],
             floats: Sequence[str] = ()) -> bytes:
    """The serialized `tf.train.Example`.

    Args:
      features: name -> values; int values must be >= 0 (int64_list),
        except the names in `floats` (float_list, float32).
      floats: the names whose values are floats.
    """
    entries = []
    for name in sorted(features):
      values = features[name]
      if name in floats:
        packed = struct.pack(f"<{len(values)}f", *values)
        field = b"\x12"  # Feature.float_list = 2, length-delimited
      else:
        packed = self._ints(values)
        field = b"\x1a"  # Feature.int64_list = 3
      # FloatList/Int64List.value = 1, packed; omitted when empty (proto3).
      length = self._length
      inner = (b"\x0a" + length(len(packed)) + packed) if values else b""
      feature = field + length(len(inner)) + inner
      key = name.encode()
      entry = (b"\x0a" + length(len(key)) + key
               + b"\x12" + length(len(feature)) + feature)
      entries.append(b"\x0a" + length(len(entry)) + entry)
    body = b"".join(entries)  # Features.feature = 1 (map entries)
    return b"\x0a" + self._length(len(body)) + body  # Example.features = 1


def _masked_crc(data: bytes) -> bytes:
  crc = google_crc32c.value(data)
  return struct.pack("<I", (((crc >> 15) | (crc << 17)) + _MASK_DELTA)
                     & 0xFFFFFFFF)


def write_record(f: BinaryIO, record: bytes) -> None:
  """Appends one TFRecord to the open binary file `f`."""
  length = struct.pack("<Q", len(record))
  f.write(length + _masked_crc(length) + record + _masked_crc(record))


def read_records(f: BinaryIO) -> Iterator[bytes]:
  """The records of an open TFRecord file (CRCs not checked: for files this
  process wrote itself).

  Raises:
    ValueError: the file ends inside a record.
  """
  while header := f.read(12):
    if len(header) < 12:
      raise ValueError("TFRecord file ends inside a record header")
    (length,) = struct.unpack("<Q", header[:8])
    record = f.read(length + 4)
    if len(record) < length + 4:
      raise ValueError("TFRecord file ends inside a record")
    yield record[:length]
