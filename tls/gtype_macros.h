// GType registration with a name chosen at build time.
//
// GLib's G_DEFINE_TYPE derives a type's name from its C identifier. Ours must
// carry the backend name chosen with -Dtls_backend_name (GTlsBackendGnutls by
// default, GTlsBackendGnutlsxx beside glib-networking), so every type of this
// module is registered through GTG_DEFINE_TYPE, which takes the name as a
// string. The module is resident (linked with -z nodelete), so static types
// are safe. Interface code (G_IMPLEMENT_INTERFACE) works inside CODE as it
// does with G_DEFINE_TYPE_WITH_CODE.
#pragma once

#include "config.h"

#include <glib-object.h>

// "Gtg" + backend name + suffix: GtgGnutlsCertificate for the default build.
#define GTG_TYPE_NAME(suffix) "Gtg" GTG_BACKEND_CAMEL suffix

#define GTG_DEFINE_TYPE(TypeName, type_name, PARENT_TYPE, FLAGS, NAME, CODE)          \
  static void type_name##_init(TypeName *self);                                    \
  static void type_name##_class_init(TypeName##Class *klass);                      \
  static gpointer type_name##_parent_class = nullptr;                              \
  static void type_name##_class_intern_init(gpointer klass, gpointer) noexcept     \
  {                                                                                \
    type_name##_parent_class = g_type_class_peek_parent(klass);                    \
    type_name##_class_init(static_cast<TypeName##Class *>(klass));                 \
  }                                                                                \
  static void type_name##_instance_init(GTypeInstance *instance, gpointer) noexcept \
  {                                                                                \
    type_name##_init(reinterpret_cast<TypeName *>(instance));                      \
  }                                                                                \
  GType type_name##_get_type(void)                                                 \
  {                                                                                \
    static gsize type_id = 0;                                                      \
    if (g_once_init_enter(&type_id)) {                                             \
      GType g_define_type_id = g_type_register_static_simple(                      \
          PARENT_TYPE, g_intern_static_string(NAME), sizeof(TypeName##Class),      \
          type_name##_class_intern_init, sizeof(TypeName),                         \
          type_name##_instance_init, static_cast<GTypeFlags>(FLAGS));              \
      { CODE; }                                                                    \
      g_once_init_leave(&type_id, g_define_type_id);                               \
    }                                                                              \
    return type_id;                                                                \
  }
