#include "../reduce.inl"
