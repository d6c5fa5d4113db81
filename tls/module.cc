// The GIO module entry points: the only three symbols the module exports.
//
// GIO calls g_io_module_load when it first needs the gio-tls-backend
// extension point (from any thread, once); we register our backend under the
// configured name. The module never unloads: it is linked with -z nodelete
// and keeps a use count on its GTypeModule, because GnuTLS keeps global state
// that must not disappear from under the process.
#include "config.h"

#include "backend.h"
#include "certificate.h"
#include "connection_types.h"
#include "database.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <gnutls/gnutls.h>

extern "C" {
G_MODULE_EXPORT void g_io_module_load(GIOModule *module);
G_MODULE_EXPORT void g_io_module_unload(GIOModule *module);
G_MODULE_EXPORT char **g_io_module_query(void);
}

G_MODULE_EXPORT void g_io_module_load(GIOModule *module)
{
  g_type_module_use(G_TYPE_MODULE(module));  // never released: resident
  bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  gnutls_global_init();

  g_io_extension_point_implement(G_TLS_BACKEND_EXTENSION_POINT_NAME, GTG_TYPE_BACKEND,
                                 GTG_BACKEND_NAME, 100);
}

G_MODULE_EXPORT void g_io_module_unload(GIOModule *) {}

G_MODULE_EXPORT char **g_io_module_query(void)
{
  char *eps[] = {const_cast<char *>(G_TLS_BACKEND_EXTENSION_POINT_NAME), nullptr};
  return g_strdupv(eps);
}
