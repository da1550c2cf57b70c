using Cocoon.Engine.Attestation;

namespace Cocoon.Worker.Attestation;

/// <summary>What this machine is, as a worker declares it in its attestation document.</summary>
public static class HardwareDetection
{
    /// <summary>Reads this machine: CPU model from /proc/cpuinfo where there is one, memory and logical threads from the runtime.</summary>
    public static HardwareInfo Detect(string? gpu = null) => Detect(gpu, "/proc/cpuinfo");

    /// <summary>As <see cref="Detect(string?)"/>, reading the CPU model from the given cpuinfo file.</summary>
    public static HardwareInfo Detect(string? gpu, string cpuInfoPath)
    {
        var cpu = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
        try
        {
            if (File.Exists(cpuInfoPath))
            {
                var model = File.ReadLines(cpuInfoPath).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
                if (model?.Split(':', 2) is [_, var name] && name.Trim().Length > 0)
                {
                    cpu = name.Trim();
                }
            }
        }
        catch (IOException)
        {
            // Unreadable /proc is not worth failing start-up over; the architecture name remains.
        }
        catch (UnauthorizedAccessException)
        {
        }

        return new HardwareInfo(cpu, gpu, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, Environment.ProcessorCount);
    }
}
