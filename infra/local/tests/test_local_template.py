"""The template loader's local parameter values (lib/local_template.py): where the local stack
sets a parameter otherwise than its default, and nowhere else."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import local_template  # noqa: E402


class LocalParameters(unittest.TestCase):
    def setUp(self):
        self.template = local_template.Template(local_template.load_template())
        self.parameters = self.template.document["Parameters"]

    def test_the_deployed_pool_requires_two_step_sign_in_and_the_local_one_leaves_it_optional(self):
        self.assertEqual(self.parameters["ConsoleMfa"]["Default"], "ON")
        pool, = self.template.of_type("AWS::Cognito::UserPool").values()
        self.assertEqual(self.template.resolve(pool["Properties"]["MfaConfiguration"]), "OPTIONAL")

    def test_every_local_value_is_a_parameter_the_template_allows_and_other_parameters_keep_their_defaults(self):
        for name, value in local_template.LOCAL_PARAMETERS.items():
            self.assertIn(name, self.parameters)
            parameter = self.parameters[name]
            self.assertIsInstance(value, str, f"{name}: !Ref gives a string")
            self.assertIn(value, [str(v) for v in parameter.get("AllowedValues", [value])])
            if parameter["Type"] == "Number":
                self.assertGreaterEqual(float(value), parameter.get("MinValue", float("-inf")), name)
                self.assertLessEqual(float(value), parameter.get("MaxValue", float("inf")), name)
            self.assertNotEqual(value, str(parameter.get("Default")), f"{name}: a needless override")
        self.assertEqual(self.template.ref("ConsoleThreatProtection"), "ENFORCED")
        for name in ("SessionRequestsPerMinute", "ApiThrottleRate", "ApiThrottleBurst"):
            self.assertEqual(self.template.ref(name), str(self.parameters[name]["Default"]), name)

    def test_the_deployed_per_address_limit_is_the_templates_and_the_local_one_wafs_largest(self):
        # Every local client is 127.0.0.1: the deployed limit would count the whole suite as one caller.
        self.assertEqual(self.parameters["IpRequestsPerMinute"]["Default"], 1000)
        self.assertEqual(self.template.ref("IpRequestsPerMinute"), "2000000000")
        self.assertEqual(self.parameters["IpRequestsPerMinute"]["MaxValue"], 2000000000)
        acl, = self.template.of_type("AWS::WAFv2::WebACL").values()
        limits = {r["Name"]: self.template.resolve(r["Statement"]["RateBasedStatement"]["Limit"])
                  for r in acl["Properties"]["Rules"]}
        self.assertEqual(limits, {"per-session": "200", "per-address": "2000000000"})


if __name__ == "__main__":
    unittest.main()
