// The error names the original daemon sends, written out literally: GDBus turns them back into
// G_IO_ERROR codes, which is what fwupd and other libpassim users test for.
const GIO = 'org.gtk.GDBus.UnmappedGError.Quark._g_2dio_2derror_2dquark';
export const NOT_FOUND = `${GIO}.Code1`;
export const EXISTS = `${GIO}.Code2`;
export const PERMISSION_DENIED = `${GIO}.Code14`;
export const INVALID_DATA = `${GIO}.Code35`;
export const INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs';
export const LIMITS_EXCEEDED = 'org.freedesktop.DBus.Error.LimitsExceeded';
