using Cocoon.Worker.Attestation;
using Cocoon.Engine.Attestation;
using Cocoon.Testing;

namespace Cocoon.Worker.Tests.Attestation;

public sealed class MeasurementTests
{
    /// <summary>
    /// One.dll = "one" and libtwo.so = "two", computed outside .NET (Python's hashlib) from the documented layout:
    /// SHA-256 over, per file in ordinal name order, the name's UTF-8 length (4 bytes, big-endian), the name, and
    /// the SHA-256 of the contents.
    /// </summary>
    private const string KnownMeasurement = "26c776bc291380568d378cd2c5798d850bae7bc33c6a8bcdafe4b4bc24a155e3";

    [Fact]
    public void Order_and_location_do_not_matter_content_and_names_do()
    {
        using var a = new TempDir("cocoon-measure-a");
        using var b = new TempDir("cocoon-measure-b");
        foreach (var dir in new[] { a, b })
        {
            File.WriteAllText(dir.File("One.dll"), "one");
            File.WriteAllText(dir.File("libtwo.so"), "two");
        }

        var m = Measurement.Compute([a.File("One.dll"), a.File("libtwo.so")]);
        Assert.Equal(KnownMeasurement, m);
        Assert.Equal(m, Measurement.Compute([b.File("libtwo.so"), b.File("One.dll")]));

        File.WriteAllText(b.File("libtwo.so"), "two!");
        Assert.NotEqual(m, Measurement.Compute([b.File("One.dll"), b.File("libtwo.so")]));

        File.WriteAllText(b.File("libthree.so"), "two");
        Assert.NotEqual(m, Measurement.Compute([a.File("One.dll"), b.File("libthree.so")]));

        Assert.NotEqual(m, Measurement.Compute([a.File("One.dll")]));
    }

    [Fact]
    public void Duplicate_names_and_empty_sets_are_refused()
    {
        using var a = new TempDir("cocoon-measure-a");
        using var b = new TempDir("cocoon-measure-b");
        File.WriteAllText(a.File("X.dll"), "1");
        File.WriteAllText(b.File("X.dll"), "2");
        Assert.Throws<ArgumentException>(() => Measurement.Compute([a.File("X.dll"), b.File("X.dll")]));
        Assert.Throws<ArgumentException>(() => Measurement.Compute([]));
    }

    [Fact]
    public void Code_files_are_assemblies_and_native_libraries_only()
    {
        using var a = new TempDir("cocoon-measure-a");
        using var native = new TempDir("cocoon-measure-native");
        File.WriteAllText(a.File("App.dll"), "x");
        File.WriteAllText(a.File("appsettings.json"), "{}");
        File.WriteAllText(native.File("libllama.so"), "y");
        File.WriteAllText(native.File("libggml.so.1"), "z");
        File.WriteAllText(native.File("README.md"), "w");
        var names = Measurement.CodeFiles(a.Path, native.Path, null, "/no/such/dir").Select(f => Path.GetFileName(f)!).ToArray();
        Assert.Equal(["App.dll", "libggml.so.1", "libllama.so"], names);
    }

    [Fact]
    public void A_fixture_folder_measures_to_its_known_value_from_any_directory_listing()
    {
        using var app = new TempDir("cocoon-measure-app");
        using var native = new TempDir("cocoon-measure-native");
        File.WriteAllText(app.File("One.dll"), "one");
        File.WriteAllText(app.File("appsettings.json"), "not code, not measured");
        File.WriteAllText(native.File("libtwo.so"), "two");
        File.WriteAllText(native.File("One.dll"), "a second One.dll: the first directory's wins");
        Assert.Equal(KnownMeasurement, Measurement.Compute(Measurement.CodeFiles(app.Path, native.Path)));
    }

    [Fact]
    public void Current_process_measures_its_assemblies_and_native_libraries()
    {
        var names = Measurement.CurrentProcessFiles().Select(f => Path.GetFileName(f)).ToArray();
        Assert.Contains("Cocoon.Engine.dll", names);
        Assert.Contains("NSec.Cryptography.dll", names);
        if (OperatingSystem.IsLinux())
        {
            Assert.Contains("libsodium.so", names);
        }
    }
}
