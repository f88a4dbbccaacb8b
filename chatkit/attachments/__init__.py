"""Attachments: images and PDFs in messages, both ways, stored by the server and served only
to those who may read the conversation."""

from chatkit.attachments.files import FILE_TYPES, FileType, UploadBuffer, clean_name, sniff
from chatkit.attachments.service import AttachmentService, Party

__all__ = ["FILE_TYPES", "AttachmentService", "FileType", "Party", "UploadBuffer",
           "clean_name", "sniff"]
