/*
 * fm-policies.h: the policy implementations, one file each in this folder; the
 * table that lists them is in ../fm-policy.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "engine/fm-policy.h"

G_BEGIN_DECLS

extern const FmPolicyOps fm_policy_xen_ops;         /* libxenguest 4.17 default */
extern const FmPolicyOps fm_policy_xen_classic_ops; /* Xen 3.x / Clark 2005 */
extern const FmPolicyOps fm_policy_qemu_ops;        /* QEMU, optional auto-converge */
extern const FmPolicyOps fm_policy_fragment_ops;    /* fragment-iterative (ours) */

G_END_DECLS

G_BEGIN_DECLS
/* The stop rule of the Xen family (fm-policy-xen.c): STOP_AND_COPY when fewer than
 * @dirty_threshold pages are pending, or when fm_policy_cap_reached(); *@reason set. */
FmDecision fm_policy_xen_decide(const FmRoundStats *stats, guint dirty_threshold,
                                guint max_rounds, double max_data, FmStopReason *reason);
G_END_DECLS
