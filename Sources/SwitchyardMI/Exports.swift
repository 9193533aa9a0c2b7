// MI speaks JSON: users of SwitchyardMI get the JSON values, parser and serializer with it.
@_exported import SwitchyardJSON
