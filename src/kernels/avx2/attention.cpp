#include "../attention.inl"
