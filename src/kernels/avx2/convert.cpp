#include "../convert.inl"
