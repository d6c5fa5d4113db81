// The properties GTlsConnection and GDtlsConnection share (certificate,
// database, interaction, peer-certificate, ...), read from and written to a
// ConnectionCore. The TLS and DTLS GObjects call these first from their
// get_property / set_property and handle only their own properties after.
// Same threads as the GObject property calls.
#pragma once

#include "connection_core.h"

#include <glib-object.h>

namespace gtg {

// Fills `value` when `pspec` names a shared property; false otherwise.
bool get_shared_property(ConnectionCore &core, GParamSpec *pspec, GValue *value);

// Applies `value` when `pspec` names a shared writable property; false otherwise.
bool set_shared_property(ConnectionCore &core, GParamSpec *pspec, const GValue *value);

}  // namespace gtg
