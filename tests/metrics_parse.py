#!/usr/bin/env python3
"""Parses taskq's metrics with prometheus_client's own parser (Debian: python3-prometheus-client)
and prints what it read as JSON: {"types": {family: type}, "samples": [[name, labels, value]]}.

  metrics_parse.py < TEXT          the text of `taskq metrics`
  metrics_parse.py URL             GET URL (taskqd's metrics_listen); also checks the content type
  metrics_parse.py --status URL    prints only the HTTP status of GET URL
"""
import json
import sys
import urllib.error
import urllib.request

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.exit("metrics_parse.py: prometheus_client missing: apt-get install python3-prometheus-client "
             "(scripts/install-deps.sh)")


def get(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        content_type = response.headers.get("Content-Type", "")
        if not content_type.startswith("text/plain; version=0.0.4"):
            sys.exit(f"metrics_parse.py: {url}: Content-Type {content_type!r}")
        return response.read().decode("utf-8")


def main():
    args = sys.argv[1:]
    if args[:1] == ["--status"]:
        try:
            with urllib.request.urlopen(args[1], timeout=60) as response:
                print(response.status)
        except urllib.error.HTTPError as error:
            print(error.code)
        return
    text = get(args[0]) if args else sys.stdin.read()
    types, samples = {}, []
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples.append([sample.name, sample.labels, sample.value])
    json.dump({"types": types, "samples": samples}, sys.stdout)


main()
