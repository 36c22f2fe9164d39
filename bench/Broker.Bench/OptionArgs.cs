using System.Globalization;

namespace Broker.Bench;

/// <summary>The command line's shape shared by the bench's modes: <c>--name value</c> or <c>--name=value</c>.</summary>
internal static class OptionArgs
{
    /// <summary>Splits <c>--name[=value]</c>; null with <paramref name="error"/> for an argument that is not an option.</summary>
    public static string? Name(string arg, out string? inline, out string? error)
    {
        inline = null;
        error = null;
        if (!arg.StartsWith("--", StringComparison.Ordinal))
        {
            error = $"unexpected argument '{arg}'";
            return null;
        }

        string name = arg[2..];
        int eq = name.IndexOf('=');
        if (eq >= 0)
        {
            inline = name[(eq + 1)..];
            name = name[..eq];
        }

        return name;
    }

    /// <summary>The option's value: the inline one, else the next argument (taken); null with <paramref name="error"/> when there is none.</summary>
    public static string? Value(string name, string? inline, string[] args, ref int i, out string? error)
    {
        error = null;
        if (inline is not null)
        {
            return inline;
        }

        if (i + 1 >= args.Length)
        {
            error = $"option --{name} needs a value";
            return null;
        }

        return args[++i];
    }

    /// <summary>Sets an integer option within [min, max]; false if the text is not one.</summary>
    public static bool TryInt(string s, int min, int max, Action<int> set)
    {
        if (int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max)
        {
            set(v);
            return true;
        }

        return false;
    }

    /// <summary>Sets a number option within [min, max]; false if the text is not one.</summary>
    public static bool TryDouble(string s, double min, double max, Action<double> set)
    {
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= min && v <= max)
        {
            set(v);
            return true;
        }

        return false;
    }

    /// <summary>The URI with its password shown as ***, for output.</summary>
    public static string WithoutPassword(Uri uri)
    {
        var b = new UriBuilder(uri);
        if (!string.IsNullOrEmpty(b.Password))
        {
            b.Password = "***";
        }

        return b.Uri.ToString();
    }
}
