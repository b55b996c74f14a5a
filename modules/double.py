"""Double an integer: the SmartModule template's smallest map.

The value must be an integer in text form (`21`); the output is twice it (`42`). Anything else is an
error for that record.
"""


def map(record, params):
    return str(int(record.value) * 2)
