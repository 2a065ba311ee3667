"""A tiny pass/fail tally for the process tests, ending in the 'N passed, N failed' line."""


class Checklist:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, ok, detail=""):
        print(f"{'ok' if ok else 'FAIL'}: {name} {detail}")
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0
