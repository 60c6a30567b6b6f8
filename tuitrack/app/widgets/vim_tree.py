"""A Tree driven from the keyboard as the panes of tuitrack are: vim keys and arrows, `h` folding
or going up to the parent, `l` unfolding or going down to the first child. The run tree and the
artifacts tree both hide their root, so going up stops below it."""

from __future__ import annotations

from typing import TypeVar

from textual.binding import Binding
from textual.widgets import Tree

NodeData = TypeVar("NodeData")


class VimTree(Tree[NodeData]):
    BINDINGS = [
        Binding("j,down", "cursor_down", "Down", show=False),
        Binding("k,up", "cursor_up", "Up", show=False),
        Binding("h,left", "collapse_or_parent", "Collapse", show=False),
        Binding("l,right", "expand_or_child", "Expand", show=False),
        Binding("g,home", "scroll_home", "Top", show=False),
        Binding("G,end", "scroll_end", "Bottom", show=False),
    ]

    def action_collapse_or_parent(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded and node.children:
            node.collapse()
        elif node.parent is not None and (self.show_root or node.parent is not self.root):
            self.move_cursor(node.parent)

    def action_expand_or_child(self) -> None:
        node = self.cursor_node
        if node is None or not node.allow_expand:
            return
        if not node.is_expanded:
            node.expand()
        elif node.children:
            self.move_cursor(node.children[0])
