"""provision.py's link key, in moto's KMS in-process (the same moto the local stack serves,
servers/moto_server.py): created once with the template's KeySpec and KeyUsage under the template's
alias, its ARN written for up.sh as LINK_KEY_IDS, and usable for what the functions do with it
(GenerateMac, HMAC_SHA_256). No stack needed:
    .local/venv/bin/python -m unittest discover -s infra/local/tests -p 'test_*.py'
"""

import os
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from lib import local_template  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import provision  # noqa: E402


class LinkKeyTest(unittest.TestCase):
    def setUp(self):
        keys = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
        env = mock.patch.dict(os.environ, keys)
        env.start()
        self.addCleanup(env.stop)
        self.out = Path(tempfile.mkdtemp()) / "link-key.env"
        target = mock.patch.object(provision, "LINK_KEY_ENV", self.out)
        target.start()
        self.addCleanup(target.stop)

    @mock_aws
    def test_the_link_key_is_the_templates_created_once_and_named_for_the_functions(self):
        kms = boto3.client("kms", region_name="us-east-1")
        props = local_template.template().resources["LinkKey"]["Properties"]
        provision.provision_link_key(kms, "LinkKey", props)
        first = self.out.read_text()
        self.assertRegex(first, r"^export LINK_KEY_IDS=arn:aws:kms:us-east-1:\d{12}:key/[0-9a-f-]{36}\n$")
        arn = first.strip().split("=", 1)[1]
        metadata = kms.describe_key(KeyId=arn)["KeyMetadata"]
        self.assertEqual((metadata["KeySpec"], metadata["KeyUsage"]), ("HMAC_256", "GENERATE_VERIFY_MAC"))
        aliases = {a["AliasName"]: a["TargetKeyId"] for a in kms.list_aliases()["Aliases"]}
        self.assertEqual(aliases["alias/attachment-export-link"], metadata["KeyId"])
        # Idempotent: a second provisioning keeps the key (links made with it stay valid).
        provision.provision_link_key(kms, "LinkKey", props)
        self.assertEqual(self.out.read_text(), first)
        self.assertEqual(len([k for k in kms.list_keys()["Keys"]]), 1)
        mac = kms.generate_mac(KeyId=arn, MacAlgorithm="HMAC_SHA_256", Message=b"attachment-export/link/v1\0")
        self.assertEqual(len(mac["Mac"]), 32)


if __name__ == "__main__":
    unittest.main()
