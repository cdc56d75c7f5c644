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
            self.assertIn(value, self.parameters[name].get("AllowedValues", [value]))
            self.assertNotEqual(value, self.parameters[name].get("Default"), f"{name}: a needless override")
        self.assertEqual(self.template.ref("ConsoleThreatProtection"), "ENFORCED")


if __name__ == "__main__":
    unittest.main()
