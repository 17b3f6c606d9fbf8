// The program behind each layer's link check (CMakeLists.txt): it does nothing; linking it with a
// whole layer archive and only the layers below is the check.
int main() { return 0; }
