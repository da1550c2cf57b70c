namespace Cocoon.Local.Processes;

/// <summary>Finds system tools (redis-server, setsid) on PATH; Cocoon's own programs are always given by path.</summary>
internal static class Executables
{
    public static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin").Append("/usr/sbin"))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
