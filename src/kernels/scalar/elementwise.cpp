#include "../elementwise.inl"
