error("library chunk exploded")
