// FMA peak loop built for this folder's ISA.
#include "../peak.inl"
