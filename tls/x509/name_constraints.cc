// Name constraints and subjectAltName well-formedness: see name_constraints.h.
#include "config.h"

#include "name_constraints.h"

#include "owners.h"
#include "subject_alt_names.h"
#include "trust_anchors.h"

#include <glib/gi18n-lib.h>
#include <gnutls/x509-ext.h>

#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace gtg {
namespace {

constexpr char kOidNameConstraints[] = "2.5.29.30";
constexpr char kOidEmailAddress[] = "1.2.840.113549.1.9.1";

std::string lower(std::string_view s)
{
  std::string out(s);
  for (char &c : out)
    c = g_ascii_tolower(c);
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix)
{
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// --- Directory names, as sequences of RDNs of (type, value) pairs

using Rdn = std::vector<std::pair<std::string, std::string>>;
using DistinguishedName = std::vector<Rdn>;

bool read_dn(gnutls_x509_dn_t dn, DistinguishedName *out)
{
  for (int irdn = 0; irdn < 256; ++irdn) {
    Rdn rdn;
    for (int iava = 0; iava < 64; ++iava) {
      gnutls_x509_ava_st ava{};
      int ret = gnutls_x509_dn_get_rdn_ava(dn, irdn, iava, &ava);
      if (ret == GNUTLS_E_ASN1_ELEMENT_NOT_FOUND || ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        break;
      if (ret < 0)
        return false;
      // Compared without regard to ASCII case: RFC 5280 §7.1 asks for
      // RFC 4518 matching, of which case folding is the part that matters.
      rdn.emplace_back(std::string(reinterpret_cast<const char *>(ava.oid.data), ava.oid.size),
                       lower(std::string_view(reinterpret_cast<const char *>(ava.value.data),
                                              ava.value.size)));
    }
    if (rdn.empty())
      break;
    out->push_back(std::move(rdn));
  }
  return true;
}

bool parse_dn(std::string_view der, DistinguishedName *out)
{
  gnutls_x509_dn_t dn = nullptr;
  if (gnutls_x509_dn_init(&dn) < 0)
    return false;
  gnutls_datum_t datum{reinterpret_cast<unsigned char *>(const_cast<char *>(der.data())),
                       static_cast<unsigned>(der.size())};
  bool ok = gnutls_x509_dn_import(dn, &datum) >= 0 && read_dn(dn, out);
  gnutls_x509_dn_deinit(dn);
  return ok;
}

// RFC 5280: a directory name is within a subtree when the subtree's RDNs are
// a prefix of its own.
bool dn_within(const DistinguishedName &name, const DistinguishedName &base)
{
  if (base.size() > name.size())
    return false;
  for (size_t i = 0; i < base.size(); ++i)
    if (base[i] != name[i])
      return false;
  return true;
}

// --- DNS names

std::string normalize_dns(std::string_view name)
{
  std::string out = lower(name);
  if (!out.empty() && out.back() == '.')
    out.pop_back();
  return out;
}

// A name is within "example.com" when it is it or ends in ".example.com";
// within ".example.com" (a form some CAs use) when it ends in ".example.com".
bool dns_within(std::string_view name, std::string_view base)
{
  if (base.empty())
    return true;
  if (base.front() == '.')
    return ends_with(name, base);
  return name == base || (ends_with(name, base) && name[name.size() - base.size() - 1] == '.');
}

// `name` is a wildcard pattern when its left-most label holds a '*'; `rest`
// is then what follows that label ("example.com" for "*.example.com").
bool wildcard_rest(std::string_view name, std::string_view *rest)
{
  size_t dot = name.find('.');
  std::string_view first = name.substr(0, dot);
  if (first.find('*') == std::string_view::npos)
    return false;
  *rest = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  return true;
}

// Every name the wildcard can match ("x.rest" for any label x) is within
// `base`: rest is base itself or below it, whichever form base has.
bool wildcard_all_within(std::string_view rest, std::string_view base)
{
  if (base.empty())
    return true;
  std::string_view bare = base.front() == '.' ? base.substr(1) : base;
  return rest == bare || (ends_with(rest, bare) && rest.size() > bare.size() &&
                          rest[rest.size() - bare.size() - 1] == '.');
}

// Some name the wildcard can match is within `base`: every one is, or base
// is one label on top of rest ("bar.example.com" for "*.example.com").
bool wildcard_any_within(std::string_view rest, std::string_view base)
{
  if (wildcard_all_within(rest, base))
    return true;
  if (base.front() == '.' || base.size() <= rest.size() + 1 || !ends_with(base, rest))
    return false;
  std::string_view label = base.substr(0, base.size() - rest.size() - 1);
  return base[label.size()] == '.' && !label.empty() && label.find('.') == std::string_view::npos;
}

// --- E-mail addresses

bool email_within(std::string_view address, std::string_view base)
{
  size_t at = address.rfind('@');
  if (at == std::string_view::npos)
    return false;
  std::string host = lower(address.substr(at + 1));
  if (base.find('@') != std::string_view::npos) {
    size_t base_at = base.rfind('@');
    return address.substr(0, at) == base.substr(0, base_at) && host == lower(base.substr(base_at + 1));
  }
  std::string b = lower(base);
  if (!b.empty() && b.front() == '.')
    return ends_with(host, b);
  return host == b;
}

// --- IP addresses: the subtree is an address followed by a mask of the same length

bool ip_within(std::string_view address, std::string_view subtree)
{
  if (subtree.size() != address.size() * 2)
    return false;
  for (size_t i = 0; i < address.size(); ++i) {
    auto mask = static_cast<unsigned char>(subtree[address.size() + i]);
    if ((static_cast<unsigned char>(address[i]) & mask) != (static_cast<unsigned char>(subtree[i]) & mask))
      return false;
  }
  return true;
}

// --- The forms of name a NameConstraints extension holds
//
// GnuTLS silently drops the subtrees of forms it does not know (URI, for
// one), so the extension's DER is walked here just far enough to see each
// subtree's form.

// Reads one DER TLV at *in: its tag and contents; advances *in past it.
bool read_tlv(std::string_view *in, unsigned char *out_tag, std::string_view *out_contents)
{
  if (in->size() < 2)
    return false;
  *out_tag = static_cast<unsigned char>((*in)[0]);
  size_t length = static_cast<unsigned char>((*in)[1]);
  size_t header = 2;
  if (length & 0x80) {
    size_t octets = length & 0x7f;
    if (octets == 0 || octets > 3 || in->size() < 2 + octets)
      return false;
    length = 0;
    for (size_t i = 0; i < octets; ++i)
      length = (length << 8) | static_cast<unsigned char>((*in)[2 + i]);
    header += octets;
  }
  if (in->size() - header < length)
    return false;
  *out_contents = in->substr(header, length);
  in->remove_prefix(header + length);
  return true;
}

// Whether every subtree of the NameConstraints DER `der` is of a form
// checked here (rfc822Name, dNSName, directoryName, iPAddress).
bool only_supported_forms(std::string_view der)
{
  unsigned char tag = 0;
  std::string_view body;
  if (!read_tlv(&der, &tag, &body) || tag != 0x30)
    return false;
  while (!body.empty()) {
    std::string_view subtrees;
    if (!read_tlv(&body, &tag, &subtrees) || (tag != 0xa0 && tag != 0xa1))
      return false;
    while (!subtrees.empty()) {
      std::string_view subtree, base;
      if (!read_tlv(&subtrees, &tag, &subtree) || tag != 0x30 || !read_tlv(&subtree, &tag, &base))
        return false;
      if (tag != 0x81 && tag != 0x82 && tag != 0xa4 && tag != 0x87)
        return false;
    }
  }
  return true;
}

// --- One CA's constraints

struct Subtree {
  unsigned type;
  std::string value;  // DNS names normalized; DNs as DER
  DistinguishedName dn;
};

struct Constraints {
  std::vector<Subtree> permitted;
  std::vector<Subtree> excluded;
};

bool supported_type(unsigned type)
{
  return type == GNUTLS_SAN_DNSNAME || type == GNUTLS_SAN_RFC822NAME ||
         type == GNUTLS_SAN_IPADDRESS || type == GNUTLS_SAN_DN;
}

// Reads the constraints of `ca`; false with a reason when they cannot be used.
bool read_constraints(gnutls_x509_crt_t ca, Constraints *out, std::string *out_reason)
{
  gnutls_x509_name_constraints_t nc = nullptr;
  if (gnutls_x509_name_constraints_init(&nc) < 0) {
    *out_reason = _("its name constraints could not be read");
    return false;
  }
  unsigned critical = 0;
  int ret = gnutls_x509_crt_get_name_constraints(ca, nc, 0, &critical);
  bool ok = ret >= 0;
  if (!ok)
    *out_reason = _("its name constraints could not be read");
  using Getter = int (*)(gnutls_x509_name_constraints_t, unsigned, unsigned *, gnutls_datum_t *);
  const std::pair<Getter, std::vector<Subtree> *> lists[] = {
      {gnutls_x509_name_constraints_get_permitted, &out->permitted},
      {gnutls_x509_name_constraints_get_excluded, &out->excluded},
  };
  for (const auto &[get, list] : lists) {
    for (unsigned i = 0; ok; ++i) {
      unsigned type = 0;
      gnutls_datum_t name{};
      if (get(nc, i, &type, &name) < 0)
        break;
      std::string_view value(reinterpret_cast<const char *>(name.data), name.size);
      if (!supported_type(type)) {
        *out_reason = _("its name constraints hold a form of name that cannot be checked");
        ok = false;
        break;
      }
      Subtree subtree{type, type == GNUTLS_SAN_DNSNAME ? normalize_dns(value) : std::string(value), {}};
      if (type == GNUTLS_SAN_DN && !parse_dn(value, &subtree.dn)) {
        *out_reason = _("its name constraints could not be read");
        ok = false;
        break;
      }
      list->push_back(std::move(subtree));
    }
  }
  gnutls_x509_name_constraints_deinit(nc);
  return ok;
}

// One name of a certificate below the CA.
struct Name {
  unsigned type;
  std::string value;      // DNS names normalized
  DistinguishedName dn;   // for GNUTLS_SAN_DN
  std::string display;    // for messages
};

bool within(const Name &name, const Subtree &subtree, bool for_exclusion)
{
  switch (name.type) {
  case GNUTLS_SAN_DNSNAME: {
    std::string_view rest;
    if (wildcard_rest(name.value, &rest))
      return for_exclusion ? wildcard_any_within(rest, subtree.value)
                           : wildcard_all_within(rest, subtree.value);
    return dns_within(name.value, subtree.value);
  }
  case GNUTLS_SAN_RFC822NAME:
    return email_within(name.value, subtree.value);
  case GNUTLS_SAN_IPADDRESS:
    return ip_within(name.value, subtree.value);
  case GNUTLS_SAN_DN:
    return dn_within(name.dn, subtree.dn);
  default:
    return false;
  }
}

bool looks_like_host_name(std::string_view name)
{
  if (name.empty() || name.find('.') == std::string_view::npos)
    return false;
  for (char c : name)
    if (!g_ascii_isalnum(c) && c != '-' && c != '.' && c != '*' && c != '_')
      return false;
  return true;
}


// The names of `crt` that constraints apply to.
std::vector<Name> names_of(gnutls_x509_crt_t crt, bool is_leaf)
{
  std::vector<Name> names;
  SubjectAltNames sans(crt);
  bool has_host_san = false;
  sans.for_each([&](unsigned type, std::string_view value) {
    switch (type) {
    case GNUTLS_SAN_DNSNAME:
      has_host_san = true;
      names.push_back({type, normalize_dns(value), {}, std::string(value)});
      break;
    case GNUTLS_SAN_IPADDRESS:
      has_host_san = true;
      names.push_back({type, std::string(value), {}, ip_address_text(value)});
      break;
    case GNUTLS_SAN_RFC822NAME:
      names.push_back({type, std::string(value), {}, std::string(value)});
      break;
    case GNUTLS_SAN_DN: {
      Name name{type, std::string(value), {}, {}};
      parse_dn(value, &name.dn);
      GnutlsBuffer text;
      gnutls_datum_t der{reinterpret_cast<unsigned char *>(const_cast<char *>(value.data())),
                         static_cast<unsigned>(value.size())};
      gnutls_x509_rdn_get2(&der, text.out(), 0);
      name.display = text.datum.data ? std::string(reinterpret_cast<const char *>(text.datum.data),
                                                   text.datum.size)
                                     : "?";
      names.push_back(std::move(name));
      break;
    }
    default:
      break;
    }
  });

  // The subject name and its e-mail addresses.
  gnutls_x509_dn_t subject = nullptr;
  if (gnutls_x509_crt_get_subject(crt, &subject) >= 0) {
    Name name{GNUTLS_SAN_DN, {}, {}, subject_of(crt)};
    if (read_dn(subject, &name.dn) && !name.dn.empty()) {
      for (const Rdn &rdn : name.dn)
        for (const auto &[oid, value] : rdn)
          if (oid == kOidEmailAddress)
            names.push_back({GNUTLS_SAN_RFC822NAME, value, {}, value});
      names.push_back(std::move(name));
    }
  }

  // A leaf without host names in subjectAltName may be matched by its
  // common names: they must obey DNS constraints as well.
  if (is_leaf && !has_host_san) {
    for (const std::string &cn : common_names(crt)) {
      if (g_hostname_is_ip_address(cn.c_str())) {
        GInetAddress *address = g_inet_address_new_from_string(cn.c_str());
        if (address) {
          std::string bytes(reinterpret_cast<const char *>(g_inet_address_to_bytes(address)),
                            g_inet_address_get_native_size(address));
          names.push_back({GNUTLS_SAN_IPADDRESS, bytes, {}, cn});
          g_object_unref(address);
        }
      } else if (looks_like_host_name(cn)) {
        names.push_back({GNUTLS_SAN_DNSNAME, normalize_dns(cn), {}, cn});
      }
    }
  }
  return names;
}

std::string name_sentence(const char *format, const Name &name, gnutls_x509_crt_t holder)
{
  CharPtr text(g_strdup_printf(format, name.display.c_str(), subject_of(holder).c_str()));
  return text.get();
}

}  // namespace

std::string ip_address_text(std::string_view bytes)
{
  if (bytes.size() != 4 && bytes.size() != 16)
    return "?";
  GInetAddress *address = g_inet_address_new_from_bytes(
      reinterpret_cast<const guint8 *>(bytes.data()),
      bytes.size() == 4 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);
  CharPtr text(g_inet_address_to_string(address));
  g_object_unref(address);
  return text.get();
}

void check_name_constraints(const std::vector<gnutls_x509_crt_t> &certs, PathFindings *findings)
{
  unsigned budget = kMaxNameChecks;
  for (size_t j = 0; j < certs.size(); ++j) {
    unsigned critical = 0;
    GnutlsBuffer ext;
    if (gnutls_x509_crt_get_extension_by_oid2(certs[j], kOidNameConstraints, 0, ext.out(), &critical) < 0)
      continue;
    if (!critical) {
      findings->add(j, kRule, _("its name constraints are not marked critical"));
      continue;
    }
    unsigned is_ca = 0;
    if (gnutls_x509_crt_get_basic_constraints(certs[j], nullptr, &is_ca, nullptr) < 0 || !is_ca) {
      findings->add(j, kRule, _("it has name constraints but is not a certificate authority"));
      continue;
    }
    if (j == 0)  // a CA as the leaf: nothing below it to constrain
      continue;
    Constraints constraints;
    std::string reason;
    if (!only_supported_forms(std::string_view(reinterpret_cast<const char *>(ext.datum.data),
                                               ext.datum.size))) {
      findings->add(j, kRule, _("its name constraints hold a form of name that cannot be checked"));
      continue;
    }
    if (!read_constraints(certs[j], &constraints, &reason)) {
      findings->add(j, kRule, std::move(reason));
      continue;
    }
    if (constraints.permitted.empty() && constraints.excluded.empty())
      continue;

    for (size_t i = 0; i < j; ++i) {
      // RFC 5280 §6.1.3 (b), (c): self-issued intermediates are exempt.
      if (i > 0 && is_self_issued(certs[i]))
        continue;
      std::vector<Name> names = names_of(certs[i], i == 0);
      size_t cost = names.size() * (constraints.permitted.size() + constraints.excluded.size());
      if (cost > budget) {
        findings->add(j, kRule, _("checking its name constraints would take too long"));
        return;
      }
      budget -= static_cast<unsigned>(cost);
      for (const Name &name : names) {
        bool type_constrained = false;
        bool permitted = false;
        for (const Subtree &p : constraints.permitted) {
          if (p.type != name.type)
            continue;
          type_constrained = true;
          permitted = permitted || within(name, p, false);
        }
        if (type_constrained && !permitted) {
          // TRANSLATORS: the first %s is a name (a host name, an address or a
          // distinguished name), the second a certificate subject.
          findings->add(j, kRule,
                        name_sentence(_("its name constraints do not permit “%s” in the "
                                        "certificate of “%s”"),
                                      name, certs[i]));
          continue;
        }
        for (const Subtree &e : constraints.excluded) {
          if (e.type == name.type && within(name, e, true)) {
            // TRANSLATORS: the first %s is a name (a host name, an address or
            // a distinguished name), the second a certificate subject.
            findings->add(j, kRule,
                          name_sentence(_("its name constraints exclude “%s” in the certificate "
                                          "of “%s”"),
                                        name, certs[i]));
            break;
          }
        }
      }
    }
  }
}

void check_subject_alt_names(const std::vector<gnutls_x509_crt_t> &certs, size_t i,
                             PathFindings *findings)
{
  SubjectAltNames sans(certs[i]);
  if (sans.present() && !sans.parsed()) {
    findings->add(i, kRule, _("its subject alternative names could not be read"));
    return;
  }
  sans.for_each([&](unsigned type, std::string_view value) {
    bool malformed = false;
    if (type == GNUTLS_SAN_DNSNAME) {
      malformed = value.empty() || value.front() == '.' ||
                  value.find("..") != std::string_view::npos;
      for (char c : value)
        malformed = malformed || static_cast<unsigned char>(c) <= 0x20 ||
                    static_cast<unsigned char>(c) >= 0x7f;
    } else if (type == GNUTLS_SAN_IPADDRESS) {
      malformed = value.size() != 4 && value.size() != 16;
    }
    if (malformed) {
      std::string shown = type == GNUTLS_SAN_DNSNAME ? std::string(value) : ip_address_text(value);
      for (char &c : shown)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
          c = '?';
      CharPtr text(g_strdup_printf(_("its subject alternative name “%s” is malformed"), shown.c_str()));
      findings->add(i, kRule, text.get());
    }
  });
}

}  // namespace gtg
