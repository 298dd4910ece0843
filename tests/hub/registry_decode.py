"""Decodes one kirikae record (Avro single-object encoding) with fastavro, using only what the
hub's schema registry serves. Usage: registry_decode.py REGISTRY_URL HEX_RECORD [SUBJECT].
Without SUBJECT the writer's schema is the version whose CRC-64-AVRO fingerprint is the one the
record carries (what the Avro specification intends); with it, the subject's latest version.
Prints the subject, the version, the id and the datum as JSON."""

import io
import json
import sys
import urllib.parse
import urllib.request

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form


def get(base, path):
    with urllib.request.urlopen(base + path) as r:
        return json.load(r)


def main(base, record_hex, only=None):
    record = bytes.fromhex(record_hex)
    if record[:2] != b"\xc3\x01":
        sys.exit("not Avro single-object encoding")
    wanted = record[2:10].hex()
    for subject in [only] if only else get(base, "/subjects"):
        quoted = urllib.parse.quote(subject, safe="")
        versions = ["latest"] if only else get(base, f"/subjects/{quoted}/versions")
        for version in versions:
            v = get(base, f"/subjects/{quoted}/versions/{version}")
            schema = fastavro.parse_schema(json.loads(v["schema"]))
            found = fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO")
            if not only and found != wanted:
                continue
            # The same schema by its id, as a Confluent deserializer would ask for it.
            by_id = get(base, f"/schemas/ids/{v['id']}")
            assert json.loads(by_id["schema"]) == json.loads(v["schema"])
            datum = fastavro.schemaless_reader(io.BytesIO(record[10:]), schema)
            print(json.dumps({"subject": subject, "version": v["version"], "id": v["id"],
                              "fingerprint": found, "datum": datum}, default=str,
                             ensure_ascii=False))
            return
    sys.exit(f"no schema in the registry has the fingerprint {wanted}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
