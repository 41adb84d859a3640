#!/usr/bin/python3
# verify.py: check the "Fragmented copy" patch on a patched virt-manager tree.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: python3 verify.py VIRT_MANAGER_TREE   (holds ui/ and virtManager/)
#
# Needs neither GTK nor libvirt: ui/migrate.ui is checked as XML (ids, grid
# cells, mnemonics, every widget id the dialog code asks for), and the
# dialog and vmmDomain.migrate() methods are taken from the sources with ast
# and run against stand-in widgets, connection and libvirt module, so that
# the path from the checkbox to the flags of migrate3() is exercised.

import ast
import os
import re
import sys
import types
import unittest
import xml.etree.ElementTree as ET
from unittest import mock

TREE = None
# the value fragmig's libvirt gives the flag; the patch must not know it
FLAG = 1 << 21


def read(rel):
    with open(os.path.join(TREE, rel)) as f:
        return f.read()


def methods(rel, classname, names, extra_ns):
    """Exec the methods NAMES of class CLASSNAME of file REL in a new class."""
    tree = ast.parse(read(rel), rel)
    body = None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == classname:
            body = [n for n in node.body
                    if isinstance(n, ast.FunctionDef) and n.name in names]
    assert body is not None and {n.name for n in body} == set(names), rel
    cls = ast.ClassDef(name=classname, bases=[], keywords=[], body=body,
                       decorator_list=[])
    mod = ast.Module(body=[cls], type_ignores=[])
    ast.fix_missing_locations(mod)
    ns = dict(extra_ns)
    exec(compile(mod, rel, 'exec'), ns)
    return ns[classname]


class TestUi(unittest.TestCase):
    def setUp(self):
        self.root = ET.fromstring(read('ui/migrate.ui'))
        self.objects = {o.get('id'): o for o in self.root.iter('object')}

    def test_ids_unique(self):
        ids = [o.get('id') for o in self.root.iter('object') if o.get('id')]
        self.assertEqual(len(ids), len(set(ids)))

    def test_checkbox_in_advanced_grid(self):
        grid = self.objects['grid1']
        cells = {}
        for child in grid.findall('child'):
            obj = child.find('object')
            pack = {p.get('name'): p.text
                    for p in child.find('packing').findall('property')}
            cell = (pack['left-attach'], pack['top-attach'])
            self.assertNotIn(cell, cells, 'two widgets in one grid cell')
            cells[cell] = obj.get('id')
        self.assertEqual('migrate-fragmented-label', cells[('0', '2')])
        self.assertEqual('migrate-fragmented', cells[('1', '2')])
        self.assertEqual('GtkCheckButton',
                         self.objects['migrate-fragmented'].get('class'))
        expander = self.objects['migrate-advanced-expander']
        self.assertIn(grid, list(expander.iter('object')))

    def test_label(self):
        props = {p.get('name'): p for p in
                 self.objects['migrate-fragmented-label'].findall('property')}
        self.assertEqual('_Fragmented copy:', props['label'].text)
        self.assertEqual('yes', props['label'].get('translatable'))
        self.assertEqual('migrate-fragmented', props['mnemonic-widget'].text)
        self.assertIn('Xen', props['tooltip-text'].text)
        self.assertEqual('yes', props['tooltip-text'].get('translatable'))

    def test_code_widgets_exist(self):
        used = set(re.findall(r'self\.widget\(\s*"([^"]+)"\)',
                              read('virtManager/migrate.py')))
        self.assertIn('migrate-fragmented', used)
        self.assertEqual(set(), used - set(self.objects))


class Widget:
    def __init__(self, tooltip=None):
        self.active = False
        self.sensitive = True
        self.tooltip = tooltip

    def set_active(self, v):
        self.active = v

    def get_active(self):
        return self.active

    def set_sensitive(self, v):
        self.sensitive = v

    def get_sensitive(self):
        return self.sensitive

    def set_tooltip_text(self, v):
        self.tooltip = v

    def get_tooltip_text(self):
        return self.tooltip

    def __getattr__(self, name):     # every other GTK call: ignored
        return mock.MagicMock(name=name)


class FakeLibvirt(types.ModuleType):
    VIR_MIGRATE_LIVE = 1
    VIR_MIGRATE_PEER2PEER = 2
    VIR_MIGRATE_TUNNELLED = 4
    VIR_MIGRATE_PERSIST_DEST = 8
    VIR_MIGRATE_UNDEFINE_SOURCE = 16
    VIR_MIGRATE_UNSAFE = 512
    VIR_MIGRATE_PARAM_URI = 'migrate_uri'
    VIR_MIGRATE_PARAM_DEST_XML = 'destination_xml'


class TestCodePath(unittest.TestCase):
    def setUp(self):
        self.widgets = {}
        self.asyncjob = mock.MagicMock()
        # a binding built against fragmig's libvirt, unless a test drops it
        self.libvirt = FakeLibvirt('libvirt')
        self.libvirt.VIR_MIGRATE_FRAGMENTED = FLAG
        ns = {'_': lambda s: s, 'log': mock.MagicMock(),
              'libvirt': self.libvirt,
              'uiutil': mock.MagicMock(), 'xmlutil': mock.MagicMock(),
              'traceback': mock.MagicMock(), 'vmmAsyncJob': self.asyncjob,
              'vmmDomain': mock.MagicMock(), 'Gtk': mock.MagicMock(),
              'Pango': mock.MagicMock(), 'NUM_COLS': 3, 'COL_LABEL': 0,
              'COL_URI': 1, 'COL_CAN_MIGRATE': 2}
        ns['uiutil'].get_list_selected_row.return_value = ['dst', 'xen://d']
        ns['uiutil'].get_list_selection.return_value = False   # direct
        dialog = methods('virtManager/migrate.py', 'vmmMigrateDialog',
                         ['_init_state', '_reset_state', '_finish',
                          '_async_migrate', '_is_tunnel_selected',
                          '_build_regular_migrate_uri'], ns)
        self.ns = ns
        self.dlg = dialog()
        self.dlg.widget = self._widget
        self.dlg.builder = mock.MagicMock()
        self.dlg._xmleditor = mock.MagicMock()
        self.dlg._xmleditor.is_xml_selected.return_value = False
        self.dlg._connobjs = {'xen://d': mock.MagicMock()}
        self.dlg._populate_destconn = mock.MagicMock()
        self.dlg.vm = mock.MagicMock()
        self.dlg.conn = self.dlg.vm.conn
        self.dlg.set_finish_cursor = mock.MagicMock()
        self.dlg._cancel_migration = mock.MagicMock()
        self.dlg._finish_cb = mock.MagicMock()
        self.dlg.topwin = None
        self.widgets['migrate-fragmented-label'] = Widget('fragmig help')
        self.widgets['migrate-address'] = Widget()
        self.widgets['migrate-address'].get_visible = lambda: False

    def _widget(self, name):
        return self.widgets.setdefault(name, Widget())

    def _dialog_run(self, is_xen, check):
        self.dlg.conn.is_xen.return_value = is_xen
        self.dlg._init_state()
        self.dlg._reset_state()
        if check:
            self.widgets['migrate-fragmented'].set_active(True)
        self.dlg._finish()
        args = self.asyncjob.call_args[0][1]
        # _async_migrate(asyncjob, *args): the vm it builds gets migrate()
        self.dlg._async_migrate(mock.MagicMock(), *args)
        vm = self.ns['vmmDomain'].return_value
        return vm.migrate.call_args[1]['fragmented']

    def test_xen_sensitive_and_reset(self):
        self.dlg.conn.is_xen.return_value = True
        self.dlg._init_state()
        self._widget('migrate-fragmented').set_active(True)
        self.dlg._reset_state()
        box = self.widgets['migrate-fragmented']
        self.assertTrue(box.get_sensitive())
        self.assertFalse(box.get_active())
        self.assertEqual('fragmig help', box.get_tooltip_text())

    def test_xen_binding_without_flag_insensitive(self):
        # Debian 12's python3-libvirt: greyed out, the tooltip says why
        del self.libvirt.VIR_MIGRATE_FRAGMENTED
        self.dlg.conn.is_xen.return_value = True
        self.dlg._init_state()
        self.dlg._reset_state()
        box = self.widgets['migrate-fragmented']
        self.assertFalse(box.get_sensitive())
        self.assertFalse(self.widgets['migrate-fragmented-label'].sensitive)
        self.assertIn('does not define VIR_MIGRATE_FRAGMENTED',
                      box.get_tooltip_text())

    def test_xen_binding_without_flag_passes_false(self):
        del self.libvirt.VIR_MIGRATE_FRAGMENTED
        self.assertIs(False, self._dialog_run(is_xen=True, check=True))

    def test_not_xen_insensitive(self):
        self.dlg.conn.is_xen.return_value = False
        self.dlg._init_state()
        self.dlg._reset_state()
        box = self.widgets['migrate-fragmented']
        self.assertFalse(box.get_sensitive())
        self.assertFalse(self.widgets['migrate-fragmented-label'].sensitive)
        self.assertIn('Xen', box.get_tooltip_text())

    def test_xen_checked_passes_true(self):
        self.assertIs(True, self._dialog_run(is_xen=True, check=True))

    def test_xen_unchecked_passes_false(self):
        self.assertIs(False, self._dialog_run(is_xen=True, check=False))

    def test_not_xen_checked_passes_false(self):
        # an insensitive box cannot be clicked, but never trust that
        self.dlg.conn.is_xen.return_value = False
        self.dlg._init_state()
        self.dlg._reset_state()
        self.widgets['migrate-fragmented'].set_active(True)
        self.dlg._finish()
        args = self.asyncjob.call_args[0][1]
        self.assertIs(False, args[-1])


class TestDomainFlags(unittest.TestCase):
    def setUp(self):
        self.libvirt = FakeLibvirt('libvirt')
        ns = {'libvirt': self.libvirt, 'log': mock.MagicMock(),
              '_': lambda s: s,
              'start_job_progress_thread': mock.MagicMock(),
              'time': mock.MagicMock()}
        self.cls = methods('virtManager/object/domain.py', 'vmmDomain',
                           ['migrate'], ns)

    def _flags(self, tunnel=False, **kwargs):
        vm = self.cls()
        vm._cancel_set_time = mock.MagicMock()
        vm._backend = mock.MagicMock()
        vm.conn = mock.MagicMock()
        vm.conn.is_test.return_value = False
        vm.migrate(mock.MagicMock(), 'dst', tunnel=tunnel, **kwargs)
        call = (vm._backend.migrateToURI3 if tunnel
                else vm._backend.migrate3).call_args
        return call[0][2]

    def test_default_no_flag(self):
        flags = self._flags()
        self.assertEqual(0, flags & FLAG)
        self.assertTrue(flags & self.libvirt.VIR_MIGRATE_LIVE)

    def test_no_hard_coded_flag(self):
        for rel in ('virtManager/object/domain.py', 'virtManager/migrate.py'):
            source = read(rel)
            self.assertNotIn('1 << 21', source, rel)
            self.assertNotIn('2097152', source, rel)

    def test_binding_without_flag_refused(self):
        # never a guessed value: a clear error, which the dialog shows
        with self.assertRaises(RuntimeError) as ctx:
            self._flags(fragmented=True)
        self.assertIn('VIR_MIGRATE_FRAGMENTED', str(ctx.exception))

    def test_binding_without_flag_default_migrates(self):
        flags = self._flags()
        self.assertTrue(flags & self.libvirt.VIR_MIGRATE_LIVE)

    def test_fragmented_flag_with_live(self):
        self.libvirt.VIR_MIGRATE_FRAGMENTED = FLAG
        flags = self._flags(fragmented=True)
        self.assertEqual(FLAG, flags & FLAG)
        self.assertTrue(flags & self.libvirt.VIR_MIGRATE_LIVE)

    def test_fragmented_tunnelled(self):
        self.libvirt.VIR_MIGRATE_FRAGMENTED = FLAG
        flags = self._flags(tunnel=True, fragmented=True)
        self.assertEqual(FLAG, flags & FLAG)
        self.assertTrue(flags & self.libvirt.VIR_MIGRATE_TUNNELLED)

    def test_binding_value_used(self):
        self.libvirt.VIR_MIGRATE_FRAGMENTED = 1 << 30     # whatever it says
        flags = self._flags(fragmented=True)
        self.assertEqual(0, flags & FLAG)
        self.assertTrue(flags & (1 << 30))


if __name__ == '__main__':
    if len(sys.argv) < 2 or not os.path.isfile(
            os.path.join(sys.argv[1], 'ui/migrate.ui')):
        sys.exit('usage: %s VIRT_MANAGER_TREE' % sys.argv[0])
    TREE = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
