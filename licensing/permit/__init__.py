"""The permit: number (numbering), page (render), signature (signing), verify code.

Pure library code: no database, no web. WeasyPrint and pyHanko are imported where they
are used, so importing this package stays cheap.
"""
