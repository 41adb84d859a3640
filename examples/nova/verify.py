#!/usr/bin/python3
# verify.py: check the live_migration_fragmented patch on a patched nova tree.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: python3 verify.py NOVA_TREE   (NOVA_TREE holds nova/conf/libvirt.py)
#
# Needs only python3-oslo.config and python3-oslo.log (Debian packages), not
# Nova's dependencies: nova/conf/libvirt.py is loaded without running
# nova/conf/__init__.py, and the flag-parsing methods of LibvirtDriver are
# taken from nova/virt/libvirt/driver.py with ast and run against a stand-in
# libvirt module (with or without VIR_MIGRATE_FRAGMENTED), a real oslo.config
# ConfigOpts, a mock LOG and a stand-in nova.exception.

import ast
import os
import sys
import tempfile
import types
import unittest
from unittest import mock

from oslo_config import cfg

TREE = None
# the value fragmig's libvirt gives the flag; the patch must not know it
FLAG = 1 << 21


class InvalidConfiguration(Exception):
    """Stands in for nova.exception.InvalidConfiguration."""


class FakeLibvirt(types.ModuleType):
    """The VIR_MIGRATE_* values of libvirt 9.0.0, without FRAGMENTED."""
    VIR_MIGRATE_LIVE = 1
    VIR_MIGRATE_PEER2PEER = 2
    VIR_MIGRATE_TUNNELLED = 4
    VIR_MIGRATE_PERSIST_DEST = 8
    VIR_MIGRATE_UNDEFINE_SOURCE = 16
    VIR_MIGRATE_NON_SHARED_INC = 128
    VIR_MIGRATE_AUTO_CONVERGE = 8192
    VIR_MIGRATE_POSTCOPY = 32768
    VIR_MIGRATE_TLS = 65536


BASE = (FakeLibvirt.VIR_MIGRATE_LIVE | FakeLibvirt.VIR_MIGRATE_PEER2PEER |
        FakeLibvirt.VIR_MIGRATE_PERSIST_DEST |
        FakeLibvirt.VIR_MIGRATE_UNDEFINE_SOURCE)


def load_conf_module():
    # Stub packages so that importing nova.conf.libvirt does not run
    # nova/conf/__init__.py (which imports every option module of Nova).
    for name, path in (('nova', 'nova'), ('nova.conf', 'nova/conf')):
        mod = types.ModuleType(name)
        mod.__path__ = [os.path.join(TREE, path)]
        sys.modules[name] = mod
    # A fresh module each time: its OptGroup keeps the registered options and
    # their overrides, so sharing it would leak state between tests.
    sys.modules.pop('nova.conf.libvirt', None)
    sys.modules.pop('nova.conf.paths', None)
    import importlib
    return importlib.import_module('nova.conf.libvirt')


def load_driver_methods(conf, log, libvirt):
    """Return a class holding the flag-parsing methods of LibvirtDriver."""
    path = os.path.join(TREE, 'nova/virt/libvirt/driver.py')
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    wanted = {'_prepare_migration_flags', '_handle_live_migration_tunnelled',
              '_handle_native_tls', '_handle_live_migration_post_copy',
              '_handle_live_migration_auto_converge',
              '_handle_live_migration_fragmented', '_parse_migration_flags',
              '_is_post_copy_enabled'}
    body = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == 'LibvirtDriver':
            body = [n for n in node.body
                    if isinstance(n, ast.FunctionDef) and n.name in wanted]
    found = {n.name for n in body}
    assert found == wanted, 'missing in driver.py: %s' % (wanted - found)
    cls = ast.ClassDef(name='Driver', bases=[], keywords=[], body=body,
                       decorator_list=[])
    mod = ast.Module(body=[cls], type_ignores=[])
    ast.fix_missing_locations(mod)
    exception = types.SimpleNamespace(
        InvalidConfiguration=InvalidConfiguration)
    ns = {'CONF': conf, 'LOG': log, 'libvirt': libvirt,
          'exception': exception, '_': lambda text: text}
    exec(compile(mod, path, 'exec'), ns)
    return ns


class TestOption(unittest.TestCase):
    def setUp(self):
        self.module = load_conf_module()
        self.conf = cfg.ConfigOpts()
        self.module.register_opts(self.conf)

    def _parse(self, text):
        with tempfile.NamedTemporaryFile('w', suffix='.conf') as f:
            f.write(text)
            f.flush()
            self.conf(['--config-file', f.name])

    def test_registered_bool_default_false(self):
        opts = {o.name: o for o in self.module.list_opts()[
            self.module.libvirt_group]}
        opt = opts['live_migration_fragmented']
        self.assertIsInstance(opt, cfg.BoolOpt)
        self.assertFalse(opt.default)
        self.assertIn('libxl', opt.help)
        self._parse('')
        self.assertFalse(self.conf.libvirt.live_migration_fragmented)

    def test_config_file_true(self):
        self._parse('[libvirt]\nlive_migration_fragmented = true\n')
        self.assertTrue(self.conf.libvirt.live_migration_fragmented)

    def test_config_file_invalid(self):
        self._parse('[libvirt]\nlive_migration_fragmented = maybe\n')
        self.assertRaises(cfg.ConfigFileValueError,
                          lambda: self.conf.libvirt.live_migration_fragmented)

    def test_xen_not_a_virt_type_choice(self):
        # Nova 26's libvirt driver has no 'xen' virt type: the option can be
        # switched on, but only a Nova carrying Xen support reaches the flag.
        self._parse('')
        self.assertRaises(ValueError, self.conf.set_override,
                          'virt_type', 'xen', 'libvirt')


class TestFlags(unittest.TestCase):
    def setUp(self):
        module = load_conf_module()
        self.conf = cfg.ConfigOpts()
        module.register_opts(self.conf)
        self.conf([])
        self.log = mock.Mock()
        self.libvirt = FakeLibvirt('libvirt')
        self.ns = load_driver_methods(self.conf, self.log, self.libvirt)

    def _parse(self):
        drv = self.ns['Driver']()
        drv._parse_migration_flags()
        return drv._live_migration_flags, drv._block_migration_flags

    def _fragmented_warnings(self):
        return [c for c in self.log.warning.call_args_list
                if 'live_migration_fragmented' in c[0][0]]

    def test_no_hard_coded_flag(self):
        # the value is the binding's: no module constant, no number
        self.assertNotIn('VIR_MIGRATE_FRAGMENTED', self.ns)
        with open(os.path.join(TREE, 'nova/virt/libvirt/driver.py')) as f:
            source = f.read()
        for text in ('VIR_MIGRATE_FRAGMENTED =', '1 << 21', '2097152'):
            self.assertNotIn(text, source)

    def test_default_off(self):
        with mock.patch.object(self.conf.libvirt, 'virt_type', 'xen'):
            live, block = self._parse()
        self.assertEqual(BASE, live)
        self.assertEqual(BASE | FakeLibvirt.VIR_MIGRATE_NON_SHARED_INC, block)
        self.assertEqual([], self._fragmented_warnings())

    def test_on_xen_live_only(self):
        self.libvirt.VIR_MIGRATE_FRAGMENTED = FLAG  # fragmig's binding
        self.conf.set_override('live_migration_fragmented', True, 'libvirt')
        with mock.patch.object(self.conf.libvirt, 'virt_type', 'xen'):
            live, block = self._parse()
        self.assertEqual(BASE | FLAG, live)
        self.assertEqual(BASE | FakeLibvirt.VIR_MIGRATE_NON_SHARED_INC, block)
        self.assertEqual([], self._fragmented_warnings())

    def test_on_xen_with_tunnel(self):
        self.libvirt.VIR_MIGRATE_FRAGMENTED = FLAG
        self.conf.set_override('live_migration_fragmented', True, 'libvirt')
        self.conf.set_override('live_migration_tunnelled', True, 'libvirt')
        with mock.patch.object(self.conf.libvirt, 'virt_type', 'xen'):
            live, _block = self._parse()
        self.assertEqual(BASE | FLAG | FakeLibvirt.VIR_MIGRATE_TUNNELLED, live)

    def test_on_xen_binding_value_used(self):
        self.libvirt.VIR_MIGRATE_FRAGMENTED = 1 << 30  # whatever it says
        self.conf.set_override('live_migration_fragmented', True, 'libvirt')
        with mock.patch.object(self.conf.libvirt, 'virt_type', 'xen'):
            live, _block = self._parse()
        self.assertEqual(BASE | (1 << 30), live)

    def test_on_xen_binding_without_flag_refuses(self):
        # Debian 12's python3-libvirt: init_host() must fail, clearly
        self.assertFalse(hasattr(self.libvirt, 'VIR_MIGRATE_FRAGMENTED'))
        self.conf.set_override('live_migration_fragmented', True, 'libvirt')
        with mock.patch.object(self.conf.libvirt, 'virt_type', 'xen'):
            with self.assertRaises(InvalidConfiguration) as ctx:
                self._parse()
        msg = str(ctx.exception)
        self.assertIn('VIR_MIGRATE_FRAGMENTED', msg)
        self.assertIn('live_migration_fragmented', msg)

    def test_off_xen_binding_without_flag_starts(self):
        with mock.patch.object(self.conf.libvirt, 'virt_type', 'xen'):
            live, _block = self._parse()
        self.assertEqual(BASE, live)

    def test_on_kvm_ignored_warns_once(self):
        self.conf.set_override('live_migration_fragmented', True, 'libvirt')
        for virt_type in ('kvm', 'qemu'):
            self.log.reset_mock()
            self.conf.set_override('virt_type', virt_type, 'libvirt')
            live, block = self._parse()
            self.assertEqual(BASE, live)
            self.assertEqual(BASE | FakeLibvirt.VIR_MIGRATE_NON_SHARED_INC,
                             block)
            warnings = self._fragmented_warnings()
            self.assertEqual(1, len(warnings))
            self.assertEqual(virt_type, warnings[0][0][1])


if __name__ == '__main__':
    if len(sys.argv) < 2 or not os.path.isfile(
            os.path.join(sys.argv[1], 'nova/conf/libvirt.py')):
        sys.exit('usage: %s NOVA_TREE' % sys.argv[0])
    TREE = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
