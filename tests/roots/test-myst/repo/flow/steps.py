def start(x: int) -> int:
    return middle(x) + 1


def middle(x: int) -> int:
    return finish(x)


def finish(x: int) -> int:
    return x
