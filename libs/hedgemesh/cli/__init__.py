"""The `hedgemesh` command line."""
def main():
    print("hi")
