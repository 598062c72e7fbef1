// Package suppression is the list of addresses Sunset must never email again: a permanent
// bounce or a complaint from any campaign puts an address on it, for every campaign. The
// planner reads it (Suppressed) before choosing recipients; the feedback handler adds to it;
// the report lists it (All).
package suppression
