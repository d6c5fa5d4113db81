// GtgFileDatabase: this module's GTlsFileDatabase.
//
// A GtgDatabase whose anchors come from the PEM file named by the `anchors`
// property. The file is read once, in GInitable::init (g_tls_file_database_new
// calls it): a file that cannot be read is a G_FILE_ERROR, one with no
// certificate or a damaged one a G_TLS_ERROR_MISC (as with glib-networking),
// and no object is returned. CRLs in the same file are applied to verification. Everything
// else (verification, lookups, handles) is GtgDatabase's.
#include "config.h"

#include "database.h"

#include "gtype_macros.h"

#include <glib/gi18n-lib.h>

struct GtgFileDatabase {
  GtgDatabase parent_instance;
  char *anchors;       // (owned) (nullable) the path as given
  bool initialized;    // init() ran; the anchors can no longer change
  GError *init_error;  // (owned) (nullable) what init() failed with, for repeated calls
};

struct GtgFileDatabaseClass {
  GtgDatabaseClass parent_class;
};

enum GtgFileDatabaseProperty : guint {
  PROP_ANCHORS = 1,
};

static void gtg_file_database_file_database_init(GTlsFileDatabaseInterface *) noexcept {}
static void gtg_file_database_initable_init(GInitableIface *iface) noexcept;

GTG_DEFINE_TYPE(GtgFileDatabase, gtg_file_database, GTG_TYPE_DATABASE, 0,
                GTG_TYPE_NAME("FileDatabase"),
                G_IMPLEMENT_INTERFACE(G_TYPE_TLS_FILE_DATABASE, gtg_file_database_file_database_init)
                G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE, gtg_file_database_initable_init))

static GtgFileDatabase *from_object(gpointer object)
{
  return G_TYPE_CHECK_INSTANCE_CAST(object, GTG_TYPE_FILE_DATABASE, GtgFileDatabase);
}

static void gtg_file_database_init(GtgFileDatabase *self)
{
  self->anchors = nullptr;
  self->initialized = false;
  self->init_error = nullptr;
}

static void gtg_file_database_finalize(GObject *object) noexcept
{
  GtgFileDatabase *self = from_object(object);
  g_free(self->anchors);
  g_clear_error(&self->init_error);
  G_OBJECT_CLASS(gtg_file_database_parent_class)->finalize(object);
}

static void gtg_file_database_get_property(GObject *object, guint prop_id, GValue *value,
                                           GParamSpec *pspec) noexcept
{
  GtgFileDatabase *self = from_object(object);
  switch (prop_id) {
  case PROP_ANCHORS:
    g_value_set_string(value, self->anchors);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void gtg_file_database_set_property(GObject *object, guint prop_id, const GValue *value,
                                           GParamSpec *pspec) noexcept
{
  GtgFileDatabase *self = from_object(object);
  switch (prop_id) {
  case PROP_ANCHORS:
    // The database is shared between threads once built: it never changes.
    if (self->initialized) {
      g_warning("The anchors of a GTlsFileDatabase cannot change after it is initialized");
      return;
    }
    g_free(self->anchors);
    self->anchors = g_value_dup_string(value);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static gboolean gtg_file_database_initable_init_impl(GInitable *initable, GCancellable *cancellable,
                                                     GError **error) noexcept
{
  GtgFileDatabase *self = from_object(initable);
  if (self->initialized) {
    if (self->init_error) {
      g_propagate_error(error, g_error_copy(self->init_error));
      return FALSE;
    }
    return TRUE;
  }
  if (g_cancellable_set_error_if_cancelled(cancellable, error))
    return FALSE;

  self->initialized = true;
  GError *local_error = nullptr;
  if (!self->anchors || !*self->anchors) {
    g_set_error_literal(&local_error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                        _("No file of trust anchors was given"));
  } else {
    gtg::database_load_anchor_file(G_TLS_DATABASE(self), self->anchors, &local_error);
  }
  if (local_error) {
    self->init_error = g_error_copy(local_error);
    g_propagate_error(error, local_error);
    return FALSE;
  }
  return TRUE;
}

static void gtg_file_database_initable_init(GInitableIface *iface) noexcept
{
  iface->init = gtg_file_database_initable_init_impl;
}

static void gtg_file_database_class_init(GtgFileDatabaseClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  object_class->finalize = gtg_file_database_finalize;
  object_class->get_property = gtg_file_database_get_property;
  object_class->set_property = gtg_file_database_set_property;
  g_object_class_override_property(object_class, PROP_ANCHORS, "anchors");
}
