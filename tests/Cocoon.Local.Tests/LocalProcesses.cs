namespace Cocoon.Local.Tests;

/// <summary>The live processes a test's stack started, found through /proc by the data folder they were given.</summary>
internal static class LocalProcesses
{
    /// <summary>Processes whose command line or environment names the data folder: pid, program, command line, environment.</summary>
    public static IEnumerable<(int Pid, string Program, string CommandLine, string Environ)> Using(string dataDir)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            string argv, environ;
            try
            {
                argv = File.ReadAllText(Path.Combine(dir, "cmdline"));
                environ = File.ReadAllText(Path.Combine(dir, "environ"));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue; // gone between the listing and the read, or not ours to read
            }

            var cmdline = argv.Replace('\0', ' ');
            if (cmdline.Contains(dataDir, StringComparison.Ordinal) || environ.Contains("COCOON_DATA=" + dataDir + "\0", StringComparison.Ordinal))
            {
                yield return (pid, Path.GetFileName(argv.Split('\0')[0]), cmdline, environ);
            }
        }
    }

    /// <summary>"pid: command line" of every process still using the data folder (empty once a stack stopped cleanly).</summary>
    public static List<string> Describe(string dataDir) => [.. Using(dataDir).Select(p => $"{p.Pid}: {p.CommandLine}")];

    /// <summary>The processes of one program (by its executable's name) started for the data folder, with their environment.</summary>
    public static List<(int Pid, string Environ)> Running(string dataDir, string program) =>
        [.. Using(dataDir).Where(p => p.Program == program && p.Environ.Contains("COCOON_DATA=" + dataDir + "\0", StringComparison.Ordinal)).Select(p => (p.Pid, p.Environ))];
}
